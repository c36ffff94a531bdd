// One benchmark round: every tool's backups, the 1% churn, restores, export, verify and the N-day series, in a fixed order.
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { churnCrm } from "./churn.ts";
import { StepError, measure, run, treeStats, type Measured } from "./measure.ts";
import type { Operation, Series } from "./report.ts";
import { manifestJsonText } from "../core/manifest-codec.ts"; // v2 manifests are stored gzipped
import { localStackUp, measureS3Requests, type S3Requests } from "./s3-requests.ts";

export type Format = "v1" | "v2";
export const oursTool = (f: Format) => (f === "v2" ? "colab-backup" : "colab-backup v1");

export interface Sample {
  tool: string;
  operation: Operation;
  m: Measured;
  cmd: string[];
  /** What the step left stored: the archive, the repository, or our whole store folder. */
  archiveBytes?: number;
  /** When the pre-restore backup of ours' restore completed (epoch ms). */
  preDone?: number;
}

export interface RoundResult { samples: Sample[]; growth: { firstBytes: number; addedBytes: number } | null; series: Series | null; exportBytes: number | null; s3: S3Requests | null }

export interface RoundConfig {
  crm: string;
  work: string;
  cli: string;
  formats: Format[];
  days: number;
  havePigz: boolean;
  haveRestic: boolean;
  oursEnv: (crmRoot: string, backupDir: string, format: Format) => NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/** Our store's size: everything it keeps (packs, manifests, RESTORE.txt, audit), without its temp work files. */
async function storeBytes(store: string): Promise<number> {
  const s = await treeStats(store);
  return s.bytes - (s.byTop.temp?.bytes ?? 0);
}

export async function runRound(c: RoundConfig): Promise<RoundResult> {
  const samples: Sample[] = [];
  const out: RoundResult = { samples, growth: null, series: null, exportBytes: null, s3: null };
  const fresh = (name: string) => {
    const dir = path.join(c.work, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const step = async (s: Omit<Sample, "m"> & { run: () => Promise<Measured>; after?: (m: Measured, s: Sample) => Promise<void> | void }) => {
    await run(["sync"]); // earlier steps' writes are flushed before the clock starts
    const m = await s.run();
    const sample: Sample = { tool: s.tool, operation: s.operation, cmd: s.cmd, m, archiveBytes: s.archiveBytes };
    await s.after?.(m, sample);
    samples.push(sample);
    const bg = m.bgCores === null ? "" : `, background load ${m.bgCores.toFixed(2)} cores`;
    c.log(`  ${s.tool} ${s.operation}: ${m.wallS.toFixed(2)} s, ${(m.peakRssKiB / 1024).toFixed(0)} MiB peak RSS${bg}`);
    return m;
  };
  // Counted again each time: opening the database (ours' snapshot does) may add its -wal/-shm files to the source.
  const expectFiles = async (dir: string, source: string, what: string) => {
    const want = (await treeStats(source)).files;
    const got = (await treeStats(dir)).files;
    if (got !== want) throw new StepError(what, 0, `restored ${got} files into ${dir}, expected ${want}`);
  };

  // The generated data stays pristine (it is reused across runs); every tool reads this copy, which the churn changes.
  const live = path.join(fresh("live"), "crm");
  await run(["cp", "-a", c.crm, live]);
  await run(["bash", "-o", "pipefail", "-c", 'tar -cf - -C "$1" . | cat > /dev/null', "bash", live]);

  const stores = new Map<Format, string>();
  const firstIds = new Map<Format, string>();
  const ours = (f: Format, args: string[], crmRoot = live) => {
    const cmd = [process.execPath, c.cli, ...args, "--json"];
    return { cmd, run: () => measure(cmd, { cwd: c.work, env: c.oursEnv(crmRoot, stores.get(f)!, f) }) };
  };
  const resticRepo = path.join(c.work, "restic", "repo");
  const resticEnv = { ...process.env, RESTIC_REPOSITORY: resticRepo, RESTIC_PASSWORD: "colab-bench", RESTIC_CACHE_DIR: path.join(c.work, "restic", "cache") };
  const restic = (operation: Operation) => {
    const cmd = ["restic", "backup", "--quiet", "--host", "bench", "."];
    return step({ tool: "restic", operation, cmd, run: () => measure(cmd, { cwd: live, env: resticEnv }), after: async (_m, s) => { s.archiveBytes = (await treeStats(resticRepo)).bytes; } });
  };

  // ---- first backup ----
  for (const f of c.formats) {
    const store = fresh(`ours-${f}-store`); // an explicit BACKUP_DIR must exist
    stores.set(f, store);
    await step({ tool: oursTool(f), operation: "backup", ...ours(f, ["backup"]), after: async (m, s) => {
      firstIds.set(f, (JSON.parse(m.stdout) as { id: string }).id);
      s.archiveBytes = await storeBytes(store);
    } });
  }
  const tarball = path.join(fresh("tar-gzip"), "out.tar.gz");
  const tarCmd = ["tar", "-czf", tarball, "-C", live, "."];
  await step({ tool: "tar+gzip", operation: "backup", cmd: tarCmd, run: () => measure(tarCmd), after: (_m, s) => { s.archiveBytes = statSync(tarball).size; } });
  const pigzball = path.join(fresh("tar-pigz"), "out.tar.gz");
  if (c.havePigz) {
    const cmd = ["tar", "-I", "pigz", "-cf", pigzball, "-C", live, "."];
    await step({ tool: "tar+pigz", operation: "backup", cmd, run: () => measure(cmd), after: (_m, s) => { s.archiveBytes = statSync(pigzball).size; } });
  }
  if (c.haveRestic) {
    fresh("restic");
    await run(["restic", "init", "--quiet"], { env: resticEnv });
    await restic("backup");
  }

  // ---- incremental backups (v2 only: a v1 backup is always a full copy) ----
  const v2 = c.formats.includes("v2");
  if (v2) await step({ tool: oursTool("v2"), operation: "backup-unchanged", ...ours("v2", ["backup"]) });
  if (c.haveRestic) await restic("backup-unchanged");
  // S3 requests of a backup with nothing changed, on LocalStack when it answers (not timed against peers).
  if (v2 && (await localStackUp())) out.s3 = await measureS3Requests(live, c.log);
  else if (v2) c.log("  LocalStack does not answer on 127.0.0.1:4566 (npm run localstack starts it): no S3 requests row");
  const day1 = churnCrm(live, 1);
  c.log(`  churn day 1: ${day1.uploadsChanged} upload files (${(day1.uploadBytesChanged / 1e6).toFixed(1)} MB) rewritten, ${day1.rowsUpdated} rows updated, ${day1.rowsInserted} inserted`);
  if (v2) {
    const before = await storeBytes(stores.get("v2")!);
    await step({ tool: oursTool("v2"), operation: "backup-churn", ...ours("v2", ["backup"]), after: async (_m, s) => {
      s.archiveBytes = await storeBytes(stores.get("v2")!);
      const first = samples.find((x) => x.tool === oursTool("v2") && x.operation === "backup")!.archiveBytes!;
      out.growth = { firstBytes: first, addedBytes: s.archiveBytes - before };
    } });
  }
  if (c.haveRestic) await restic("backup-churn");

  // ---- restores: ours puts the first backup back into a copy of the churned data, so files really change ----
  for (const f of c.formats) {
    const target = path.join(fresh(`restore-ours-${f}`), "crm");
    await run(["cp", "-a", live, target]);
    await step({ tool: oursTool(f), operation: "restore", ...ours(f, ["restore", firstIds.get(f)!, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE"], target),
      after: async (m, s) => {
        const id = (JSON.parse(m.stdout) as { preRestoreBackupId: string }).preRestoreBackupId;
        const pre = JSON.parse(manifestJsonText(readFileSync(path.join(stores.get(f)!, "pre-restore", `${id}.json`)))) as { completedAt: string };
        s.preDone = Date.parse(pre.completedAt);
        await expectFiles(path.join(target, "uploads"), path.join(live, "uploads"), `${oursTool(f)} restore`);
        rmSync(path.dirname(target), { recursive: true, force: true });
      } });
  }
  const extractPeer = async (tool: string, cmd: (dir: string) => string[], env?: NodeJS.ProcessEnv) => {
    const dir = fresh(`restore-${tool.replace(/\W+/g, "-")}`);
    await step({ tool, operation: "restore", cmd: cmd(dir), run: () => measure(cmd(dir), { env }), after: async () => {
      await expectFiles(dir, live, `${tool} restore`);
      rmSync(dir, { recursive: true, force: true });
    } });
  };
  await extractPeer("tar+gzip", (dir) => ["tar", "-xzf", tarball, "-C", dir]);
  if (c.havePigz) await extractPeer("tar+pigz", (dir) => ["tar", "-I", "pigz", "-xf", pigzball, "-C", dir]);
  if (c.haveRestic) await extractPeer("restic", (dir) => ["restic", "restore", "latest", "--quiet", "--target", dir], resticEnv);

  // ---- export and verify of the first backup (its peer for export is tar -czf above) ----
  if (v2) {
    const file = path.join(fresh("export"), "export.tar.gz");
    await step({ tool: oursTool("v2"), operation: "export", ...ours("v2", ["export", firstIds.get("v2")!, "--output", file]), after: (_m, s) => {
      s.archiveBytes = out.exportBytes = statSync(file).size;
    } });
    rmSync(file, { force: true });
    await step({ tool: oursTool("v2"), operation: "verify", ...ours("v2", ["verify", firstIds.get("v2")!]), after: (m) => {
      if (!(JSON.parse(m.stdout) as { report: { ok: boolean } }).report.ok) throw new StepError("colab-backup verify", 0, m.stdout.slice(0, 4000));
    } });
  }
  const sumCmd = ["bash", "-o", "pipefail", "-c", 'gzip -dc "$1" | sha256sum > /dev/null', "bash", tarball];
  await step({ tool: "gzip -dc | sha256sum", operation: "verify", cmd: sumCmd, run: () => measure(sumCmd) });

  // ---- N daily backups at 1% daily churn (days 2..N+1 on the same data and store) ----
  if (v2 && c.days > 0) {
    const store = stores.get("v2")!;
    const series: Series = { days: c.days, firstBackupBytes: out.growth?.firstBytes ?? 0, storeBytesAfter: 0, ratio: 0, backupWallS: [], peakRssKiB: 0 };
    for (let day = 2; day <= c.days + 1; day++) {
      churnCrm(live, day);
      await run(["sync"]);
      const { cmd, run: go } = ours("v2", ["backup", "--type", "daily"]);
      const m = await go().catch((err: unknown) => { throw err instanceof StepError ? err : new StepError(cmd.join(" "), null, String(err)); });
      series.backupWallS.push(m.wallS);
      series.peakRssKiB = Math.max(series.peakRssKiB, m.peakRssKiB);
    }
    series.storeBytesAfter = await storeBytes(store);
    series.ratio = series.storeBytesAfter / series.firstBackupBytes;
    c.log(`  ${c.days} daily backups at 1% churn: store ${(series.storeBytesAfter / 1e6).toFixed(1)} MB = ${series.ratio.toFixed(2)}x the first backup`);
    out.series = series;
  }
  return out;
}
