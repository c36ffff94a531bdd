// Benchmark output: the ratio table, the machine and input description, and the small JSON results file.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** What a row measures: the first backup, the later backups, restore, export, verify. */
export type Operation = "backup" | "backup-unchanged" | "backup-churn" | "restore" | "export" | "verify";

export interface Row {
  tool: string;
  operation: Operation;
  /** The measured command, with the data and temp folders shown as <crm> and <tmp>. */
  command: string;
  wallS: number;
  cpuS: number;
  peakRssKiB: number;
  archiveBytes?: number;
  /** Cores busy with other work on the machine during the step; null where unknown. */
  bgCores: number | null;
  /** Wall seconds of every repetition; the row shows the median one. */
  runsWallS: number[];
}

export interface Machine {
  nproc: number;
  cpu: string;
  memGiB: number;
  kernel: string;
  node: string;
  tar: string;
  gzip: string;
  pigz: string | null;
  restic: string | null;
}

export interface Input {
  dir: string;
  scale: number;
  totalBytes: number;
  files: number;
  databaseBytes: number;
  uploadsBytes: number;
  uploadsFiles: number;
  logsBytes: number;
  logsFiles: number;
  otherBytes: number;
}

export const OURS = "colab-backup";
const MB = 1e6;
const MiB = 1 << 20;

export interface RatedRow extends Row {
  mbPerS: number;
  peakRssMiB: number;
  archiveMiB: number | null;
  /** ours / this row, same operation; null on our own row. */
  timeRatio: number | null;
  memRatio: number | null;
}

/** Ours is the first colab-backup row of an operation (v2 when it runs); every other row is compared with it. */
export function rate(rows: Row[], input: Input): RatedRow[] {
  return rows.map((r) => {
    const ours = rows.find((o) => o.tool.startsWith(OURS) && o.operation === r.operation);
    const peer = !r.tool.startsWith(OURS) && ours !== undefined;
    return {
      ...r,
      mbPerS: input.totalBytes / MB / r.wallS,
      peakRssMiB: r.peakRssKiB / 1024,
      archiveMiB: r.archiveBytes === undefined ? null : r.archiveBytes / MiB,
      timeRatio: peer ? ours.wallS / r.wallS : null,
      memRatio: peer ? ours.peakRssKiB / r.peakRssKiB : null,
    };
  });
}

export interface Series { days: number; firstBackupBytes: number; storeBytesAfter: number; ratio: number; backupWallS: number[]; peakRssKiB: number }

export interface Target {
  what: string;
  ours: string;
  peer: string;
  /** ours / peer (or the measured fraction); null when a side is missing. */
  ratio: number | null;
  target: string;
  met: boolean | null;
}

/** The benchmark table: each row's ours against its peer, the ratio, the target and whether it is met. */
export function targets(rows: Row[], growth: { firstBytes: number; addedBytes: number } | null, series: Series | null, s3: { unchanged: number; unchangedByOperation: Record<string, number> } | null = null): Target[] {
  const row = (tool: string, op: Operation) => rows.find((r) => r.tool === tool && r.operation === op);
  const s = (r: Row | undefined) => (r ? `${r.wallS.toFixed(2)} s` : "—");
  const mb = (n: number | undefined) => (n === undefined ? "—" : `${(n / 1e6).toFixed(1)} MB`);
  const out: Target[] = [];
  const time = (what: string, ours: Row | undefined, peerName: string, peer: Row | undefined, max: number) => {
    const ratio = ours && peer ? ours.wallS / peer.wallS : null;
    out.push({ what, ours: s(ours), peer: `${peerName} ${s(peer)}`, ratio, target: `<= ${max.toFixed(2)}x`, met: ratio === null ? null : ratio <= max });
  };
  const first = row(OURS, "backup");
  time("first backup", first, "restic full", row("restic", "backup"), 1.5);
  time("first backup vs tar -czf", first, "tar -czf", row("tar+gzip", "backup"), Infinity);
  out[out.length - 1]!.target = "(context)";
  out[out.length - 1]!.met = null;
  const tarBytes = row("tar+gzip", "backup")?.archiveBytes;
  const stored = first?.archiveBytes;
  const bytesRatio = stored !== undefined && tarBytes ? stored / tarBytes : null;
  out.push({ what: "bytes stored by the first backup", ours: mb(stored), peer: `tar -czf ${mb(tarBytes)}`, ratio: bytesRatio, target: "<= 1.05x", met: bytesRatio === null ? null : bytesRatio <= 1.05 });
  time("backup when nothing changed", row(OURS, "backup-unchanged"), "restic", row("restic", "backup-unchanged"), 1.5);
  time("backup after 1% churn", row(OURS, "backup-churn"), "restic", row("restic", "backup-churn"), 2);
  if (growth) {
    const g = growth.addedBytes / growth.firstBytes;
    out.push({ what: "store growth by the 1% churn backup", ours: mb(growth.addedBytes), peer: `first backup ${mb(growth.firstBytes)}`, ratio: g, target: "<= 0.03", met: g <= 0.03 });
  }
  time("restore all, pre-restore included", row(OURS, "restore"), "tar -xzf", row("tar+gzip", "restore"), 1);
  time("export to .tar.gz", row(OURS, "export"), "tar -czf", row("tar+gzip", "backup"), 0.5);
  time("verify, reading all data", row(OURS, "verify"), "gzip -dc | sha256sum", row("gzip -dc | sha256sum", "verify"), 1);
  if (series) {
    out.push({ what: `store after ${series.days} daily backups at 1% churn`, ours: mb(series.storeBytesAfter), peer: `first backup ${mb(series.firstBackupBytes)}`,
      ratio: series.ratio, target: "<= 1.40x", met: series.ratio <= 1.4 });
  }
  if (s3) {
    const ops = Object.entries(s3.unchangedByOperation).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
    out.push({ what: "LocalStack S3: requests for a backup when nothing changed", ours: `${s3.unchanged} (${ops})`, peer: "", ratio: null, target: "<= 20", met: s3.unchanged <= 20 });
  }
  const peaks = rows.filter((r) => r.tool.startsWith(OURS)).map((r) => r.peakRssKiB / 1024);
  if (series) peaks.push(series.peakRssKiB / 1024);
  if (peaks.length) {
    const peak = Math.max(...peaks);
    out.push({ what: "peak memory, largest of ours' steps", ours: `${peak.toFixed(0)} MiB`, peer: "", ratio: null, target: "<= 256 MiB", met: peak <= 256 });
  }
  return out;
}

export function formatTargets(list: Target[]): string {
  const head = ["what", "ours", "peer", "ratio", "target", "met"];
  const body = list.map((t) => [t.what, t.ours, t.peer, t.ratio === null ? "—" : t.ratio < 0.1 ? t.ratio.toFixed(4) : t.ratio.toFixed(2), t.target, t.met === null ? "" : t.met ? "yes" : "NO"]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

const f = (n: number | null, digits = 2) => (n === null ? "—" : n.toFixed(digits));

export function formatTable(rows: RatedRow[]): string {
  const head = ["tool", "operation", "wall s", "cpu s", "MB/s", "peak RSS MiB", "archive MiB", "time ours/peer", "mem ours/peer", "bg cores"];
  const body = rows.map((r) => [r.tool, r.operation, f(r.wallS), f(r.cpuS), f(r.mbPerS, 1), f(r.peakRssMiB, 1), f(r.archiveMiB, 1), f(r.timeRatio), f(r.memRatio), f(r.bgCores)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

export function formatMachine(m: Machine): string {
  return [
    `machine: nproc ${m.nproc}, ${m.cpu}, ${m.memGiB.toFixed(1)} GiB RAM, Linux ${m.kernel}`,
    `node ${m.node}; ${m.tar}; ${m.gzip}; pigz: ${m.pigz ?? "not installed"}; restic: ${m.restic ?? "not installed"}`,
  ].join("\n");
}

export function formatInput(i: Input): string {
  const mb = (b: number) => (b / MB).toFixed(1);
  return `input: ${i.dir} (scale ${i.scale}): ${mb(i.totalBytes)} MB in ${i.files} files = database ${mb(i.databaseBytes)} MB, ` +
    `uploads ${mb(i.uploadsBytes)} MB (${i.uploadsFiles} files), logs ${mb(i.logsBytes)} MB (${i.logsFiles} files), config and other ${mb(i.otherBytes)} MB`;
}

export interface Results {
  date: string;
  scale: number;
  repeat: number;
  cache: string;
  machine: Machine;
  input: Omit<Input, "dir">;
  formats: string[];
  rows: RatedRow[];
  targets: Target[];
  series: Series | null;
  exportBytes: number | null;
  restoreSplit: { preRestoreS: number; restoreS: number; timeRatioVsTarGzip: number | null } | null;
  /** The LocalStack step (bench/s3-requests.ts), when LocalStack answered. */
  s3: { first: number; unchanged: number; unchangedByOperation: Record<string, number>; firstWallS: number; unchangedWallS: number } | null;
  notes: string[];
}

export function writeResults(file: string, results: Results): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const round = (_k: string, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v);
  writeFileSync(file, JSON.stringify(results, round, 2) + "\n");
}
