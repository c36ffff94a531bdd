// The time model for long work on AWS: throughputs measured here (bench/results/latest.json), limits from AWS's docs, the 5 GB reference CRM; decides which job must leave Lambda.

/** One row of bench/results/latest.json (npm run bench), the only fields the model uses. */
export interface BenchRow {
  tool: string;
  operation: string;
  wallS: number;
  cpuS: number;
}
export interface BenchResults {
  date: string;
  input: { totalBytes: number; files: number };
  rows: BenchRow[];
}

/**
 * AWS figures (us-east-1 docs, checked 2026-11; see README "Deploying to AWS" for the links). Where the docs give a
 * range or an "as low as", the model takes the slow end, so the margins it reports are lower bounds.
 */
export const AWS = {
  /** Lambda's hard timeout (the worker and backup functions are set to it). */
  lambdaTimeoutS: 15 * 60,
  /** "At 1,769 MB, a function has the equivalent of one vCPU"; CPU grows linearly with memory up to 10,240 MB. */
  lambdaMbPerVcpu: 1769,
  /** EFS Bursting: every file system may burst to 100 MiB/s of metered throughput (reads count 1/3, ignored here: slow end). */
  efsBytesPerS: 100 * 2 ** 20,
  /** EFS General Purpose latency "as low as" 250 µs per read op, 2.7 ms per write op; taken as 1 ms and 2.7 ms. */
  efsReadOpS: 0.001,
  efsWriteOpS: 0.0027,
  /** S3 performance guidelines: about 85-90 MB/s per connection; one connection assumed (the store uses several). */
  s3BytesPerS: 85e6,
} as const;

/** Ops per file: a read is open + read + close; a restored file is create, write, close (commit), chmod/chown, utimes, rename. */
const READ_OPS_PER_FILE = 2;
const WRITE_OPS_PER_FILE = 6;

/** The reference CRM of issue 8: 1 GB database, 4 GB uploads (mostly media), 1% daily churn. Files: the bench's density (≈ 125 kB a file) × size, a high count for media. */
export function referenceCrm(bench: BenchResults) {
  const totalBytes = 5e9;
  const scale = totalBytes / bench.input.totalBytes;
  return {
    totalBytes,
    databaseBytes: 1e9,
    /** What one full copy stores: database gzipped to ~40%, media raw (README "The cost of keeping backups"). */
    storedBytes: 4.4e9,
    churnBytes: 0.01 * totalBytes,
    files: Math.round(bench.input.files * scale),
    scale,
  };
}

/** The work of one job on the reference CRM: CPU as measured here scaled by size, plus what it moves over EFS and S3. */
export interface JobWork {
  /** The bench operation whose CPU time (scaled) this job costs; the bench data's mix compresses more than media, so this is high. */
  bench: string;
  efsReadBytes: number;
  efsWriteBytes: number;
  filesRead: number;
  /** Files whose metadata alone is checked (unchanged files are not read). */
  filesStatted: number;
  filesWritten: number;
  s3Bytes: number;
  /** Extra scaled bench operations that run inside this job (restore's pre-restore backup). */
  plus?: string[];
}

export const JOBS = ["backup-first", "backup-full-reread", "backup-daily", "restore", "verify", "export"] as const;
export type JobName = (typeof JOBS)[number];

export function jobWork(bench: BenchResults): Record<JobName, JobWork> {
  const r = referenceCrm(bench);
  const none = { efsWriteBytes: 0, filesWritten: 0, filesStatted: 0 };
  const changedFiles = Math.round(0.01 * r.files);
  return {
    // An empty store: every byte read from EFS, the full copy uploaded.
    "backup-first": { bench: "backup", ...none, efsReadBytes: r.totalBytes, filesRead: r.files, s3Bytes: r.storedBytes },
    // Weekly and monthly (and --rehash): every byte read and hashed again, only the churn uploaded; CPU taken as a first backup's.
    "backup-full-reread": { bench: "backup", ...none, efsReadBytes: r.totalBytes, filesRead: r.files, s3Bytes: r.churnBytes },
    // Daily: the database snapshot read whole, changed files read, the rest only statted.
    "backup-daily": { bench: "backup-churn", ...none, efsReadBytes: r.databaseBytes + r.churnBytes, filesRead: changedFiles, filesStatted: r.files, s3Bytes: r.churnBytes },
    // The disaster case: the pre-restore backup of the live folder (an incremental one: live data as it stands), then
    // every byte downloaded and written, and the database copied twice over NFS (snapshot, then into the live file).
    restore: {
      bench: "restore", plus: ["backup-unchanged"], efsReadBytes: r.databaseBytes, filesRead: 0, filesStatted: r.files,
      efsWriteBytes: r.totalBytes + r.databaseBytes, filesWritten: r.files, s3Bytes: r.storedBytes,
    },
    // S3 only: every piece read and hashed.
    verify: { bench: "verify", ...none, efsReadBytes: 0, filesRead: 0, s3Bytes: r.storedBytes },
    // S3 only: every piece read, the .tar.gz written back (about the stored size).
    export: { bench: "export", ...none, efsReadBytes: 0, filesRead: 0, s3Bytes: 2 * r.storedBytes },
  };
}

export interface Estimate {
  job: JobName;
  cpuS: number;
  efsS: number;
  s3S: number;
  /** Sum of the three: as if nothing overlapped (the code streams, so the real time is lower). */
  totalS: number;
  /** The runtime's limit over totalS; Infinity where there is none (Fargate). */
  margin: number;
}

function row(bench: BenchResults, operation: string): BenchRow {
  const found = bench.rows.find((x) => x.tool === "colab-backup" && x.operation === operation);
  if (!found) throw new Error(`model AWS limits: bench results of ${bench.date} have no colab-backup "${operation}" row; run npm run bench`);
  return found;
}

/**
 * CPU: the measured CPU seconds × size, spread over the runtime's vCPUs, but never over more cores than the job
 * used here (cpuS / wallS on this 2-core machine). EFS and S3: bytes at the documented rates plus per-file latency.
 */
export function estimate(bench: BenchResults, job: JobName, vcpus: number, limitS = Infinity): Estimate {
  const r = referenceCrm(bench);
  const w = jobWork(bench)[job];
  const cpuS = [w.bench, ...(w.plus ?? [])].reduce((sum, op) => {
    const m = row(bench, op);
    const parallel = Math.max(1, m.cpuS / m.wallS);
    return sum + (r.scale * m.cpuS) / Math.min(vcpus, parallel);
  }, 0);
  const efsS =
    (w.efsReadBytes + w.efsWriteBytes) / AWS.efsBytesPerS +
    (w.filesRead * READ_OPS_PER_FILE + w.filesStatted) * AWS.efsReadOpS +
    w.filesWritten * WRITE_OPS_PER_FILE * AWS.efsWriteOpS;
  const s3S = w.s3Bytes / AWS.s3BytesPerS;
  const totalS = cpuS + efsS + s3S;
  return { job, cpuS, efsS, s3S, totalS, margin: limitS / totalS };
}

/** vCPUs of a Lambda function with this much memory. */
export const lambdaVcpus = (memoryMb: number) => Math.min(memoryMb, 10240) / AWS.lambdaMbPerVcpu;

/** The margin every job that stays on Lambda must keep (issue 9: at least 2×). */
export const REQUIRED_MARGIN = 2;
