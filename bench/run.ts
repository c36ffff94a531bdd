// The benchmark: backs up and restores one generated CRM with colab-backup and with peers (tar+gzip, tar+pigz, restic), and prints ratios.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, cpus, release, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, DEFAULT_DIR, generateCrm } from "./generate.ts";
import { StepError, hasCommand, measure, run, show, treeBytes, treeStats, versionLine, type Measured } from "./measure.ts";
import { OURS, formatInput, formatMachine, formatTable, rate, writeResults, type Input, type Machine, type Row } from "./report.ts";

const REPO = path.dirname(BENCH_DIR);
const CLI = path.join(REPO, "bin", "colab-backup.js");
const log = (line: string) => process.stderr.write(`${line}\n`);

const { values: args } = parseArgs({
  options: { scale: { type: "string", default: "1" }, dir: { type: "string" }, repeat: { type: "string", default: "1" }, keep: { type: "boolean" }, out: { type: "string" } },
});
const scale = Number(args.scale);
const repeat = Number(args.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a positive integer; got ${args.repeat}`);
const outFile = path.resolve(args.out ?? path.join(BENCH_DIR, "results", "latest.json"));

/** Environment for our CLI: nothing inherited that would re-point it (paths, mail, NODE_OPTIONS). */
function oursEnv(crmRoot: string, backupDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(BACKUP_|SMTP_|CRM_ROOT$|DATABASE_PATH$|UPLOADS_DIR$|LOGS_DIR$|NODE_OPTIONS$|TZ$)/.test(k)) env[k] = v;
  }
  return { ...env, CRM_ROOT: crmRoot, BACKUP_DIR: backupDir, BACKUP_EMAIL_ENABLED: "false" };
}

async function main() {
  const gen = generateCrm({ dir: args.dir ?? DEFAULT_DIR, scale, log });
  if (gen.reused) log(`using the existing scale ${scale} data at ${gen.dir}`);
  const crm = gen.dir;
  const tree = await treeStats(crm);
  const top = (k: string) => tree.byTop[k] ?? { files: 0, bytes: 0 };
  const input: Input = {
    dir: crm.startsWith(REPO + path.sep) ? path.relative(REPO, crm) : crm, scale, totalBytes: tree.bytes, files: tree.files,
    databaseBytes: top("prisma").bytes - statSync(path.join(crm, "prisma", "schema.prisma")).size,
    uploadsBytes: top("uploads").bytes, uploadsFiles: top("uploads").files, logsBytes: top("logs").bytes, logsFiles: top("logs").files, otherBytes: 0,
  };
  input.otherBytes = input.totalBytes - input.databaseBytes - input.uploadsBytes - input.logsBytes;
  const havePigz = hasCommand("pigz");
  const haveRestic = hasCommand("restic");
  const machine: Machine = {
    nproc: availableParallelism(), cpu: cpus()[0]?.model ?? "unknown cpu", memGiB: totalmem() / 2 ** 30, kernel: release(), node: process.version,
    tar: versionLine("tar"), gzip: versionLine("gzip"), pigz: havePigz ? versionLine("pigz") : null, restic: haveRestic ? versionLine("restic", ["version"]) : null,
  };

  const work = mkdtempSync(path.join(tmpdir(), "colab-bench-"));
  const label = (cmd: readonly string[]) =>
    show(cmd.map((a) => (a === process.execPath ? "node" : a))).split(crm).join("<crm>").split(work).join("<tmp>").split(`${REPO}/`).join("");
  const notes: string[] = [];
  type Sample = { m: Measured; cmd: string[]; archiveBytes?: number; preDone?: number };
  const steps: { tool: string; operation: Row["operation"]; body: () => Promise<Sample>; samples: Sample[] }[] = [];
  const add = (tool: string, operation: Row["operation"], body: () => Promise<Sample>) => steps.push({ tool, operation, body, samples: [] });
  const fresh = (name: string) => {
    const dir = path.join(work, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  // Counted again each time: opening the database (ours' snapshot does) may add its -wal/-shm files to the source.
  const expectFiles = async (dir: string, source: string, what: string) => {
    const want = (await treeStats(source)).files;
    const got = (await treeStats(dir)).files;
    if (got !== want) throw new StepError(what, 0, `restored ${got} files into ${dir}, expected ${want}`);
  };

  // ---- backups ----
  const store = path.join(work, "ours-store");
  let oursId = "";
  add(OURS, "backup", async () => {
    rmSync(store, { recursive: true, force: true });
    mkdirSync(store); // an explicit BACKUP_DIR must exist
    const cmd = [process.execPath, CLI, "backup", "--json"];
    const m = await measure(cmd, { cwd: work, env: oursEnv(crm, store) });
    const out = JSON.parse(m.stdout) as { id: string; manifest: { archive: { sizeBytes: number } } };
    oursId = out.id;
    return { m, cmd, archiveBytes: out.manifest.archive.sizeBytes };
  });
  const tarball = path.join(work, "tar-gzip", "out.tar.gz");
  add("tar+gzip", "backup", async () => {
    fresh("tar-gzip");
    const cmd = ["tar", "-czf", tarball, "-C", crm, "."];
    return { m: await measure(cmd), cmd, archiveBytes: statSync(tarball).size };
  });
  const pigzball = path.join(work, "tar-pigz", "out.tar.gz");
  if (havePigz) {
    add("tar+pigz", "backup", async () => {
      fresh("tar-pigz");
      const cmd = ["tar", "-I", "pigz", "-cf", pigzball, "-C", crm, "."];
      return { m: await measure(cmd), cmd, archiveBytes: statSync(pigzball).size };
    });
  } else notes.push("pigz is not installed: no tar+pigz rows");
  const resticRepo = path.join(work, "restic", "repo");
  const resticEnv = { ...process.env, RESTIC_REPOSITORY: resticRepo, RESTIC_PASSWORD: "colab-bench", RESTIC_CACHE_DIR: path.join(work, "restic", "cache") };
  if (haveRestic) {
    add("restic", "backup", async () => {
      fresh("restic");
      await run(["restic", "init", "--quiet"], { env: resticEnv });
      const cmd = ["restic", "backup", "--quiet", "--host", "bench", "."];
      const m = await measure(cmd, { cwd: crm, env: resticEnv });
      return { m, cmd, archiveBytes: await treeBytes(resticRepo) };
    });
  } else notes.push("restic is not installed: no restic rows");

  // ---- restores ----
  add(OURS, "restore", async () => {
    const target = path.join(fresh("restore-ours"), "crm");
    await run(["cp", "-a", crm, target]);
    await run(["sync"]);
    const cmd = [process.execPath, CLI, "restore", oursId, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE", "--json"];
    const m = await measure(cmd, { cwd: work, env: oursEnv(target, store) });
    const out = JSON.parse(m.stdout) as { preRestoreBackupId: string };
    const pre = JSON.parse(readFileSync(path.join(store, "pre-restore", `${out.preRestoreBackupId}.json`), "utf8")) as { completedAt: string };
    await expectFiles(path.join(target, "uploads"), path.join(crm, "uploads"), "colab-backup restore");
    rmSync(path.dirname(target), { recursive: true, force: true });
    return { m, cmd, preDone: Date.parse(pre.completedAt) };
  });
  const extractPeer = (tool: string, cmdFor: (dir: string) => string[], env?: NodeJS.ProcessEnv) =>
    add(tool, "restore", async () => {
      const dir = fresh(`restore-${tool.replace(/\W+/g, "-")}`);
      const cmd = cmdFor(dir);
      const m = await measure(cmd, { env });
      await expectFiles(dir, crm, `${tool} restore`);
      rmSync(dir, { recursive: true, force: true });
      return { m, cmd };
    });
  extractPeer("tar+gzip", (dir) => ["tar", "-xzf", tarball, "-C", dir]);
  if (havePigz) extractPeer("tar+pigz", (dir) => ["tar", "-I", "pigz", "-xf", pigzball, "-C", dir]);
  if (haveRestic) extractPeer("restic", (dir) => ["restic", "restore", "latest", "--quiet", "--target", dir], resticEnv);

  try {
    log(`warm-up: reading the whole tree once (tar -cf - | cat > /dev/null) so every tool sees a warm page cache`);
    await run(["bash", "-o", "pipefail", "-c", 'tar -cf - -C "$1" . | cat > /dev/null', "bash", crm]);
    // Rounds interleave the tools, so a busy spell on a shared machine does not land on one tool's repetitions only.
    for (let round = 1; round <= repeat; round++) {
      if (repeat > 1) log(`round ${round} of ${repeat}`);
      for (const st of steps) {
        await run(["sync"]); // earlier steps' writes are flushed before the clock starts
        const sample = await st.body();
        st.samples.push(sample);
        const bg = sample.m.bgCores === null ? "" : `, background load ${sample.m.bgCores.toFixed(2)} cores`;
        log(`  ${st.tool} ${st.operation}: ${sample.m.wallS.toFixed(2)} s, ${(sample.m.peakRssKiB / 1024).toFixed(0)} MiB peak RSS${bg}`);
      }
    }
  } finally {
    if (args.keep) log(`kept the work folder ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }

  const rows: Row[] = [];
  let split: { preRestoreS: number; restoreS: number } | null = null;
  for (const st of steps) {
    const mid = [...st.samples].sort((a, b) => a.m.wallS - b.m.wallS)[Math.floor((st.samples.length - 1) / 2)]!;
    rows.push({ tool: st.tool, operation: st.operation, command: label(mid.cmd), wallS: mid.m.wallS, cpuS: mid.m.cpuS, peakRssKiB: mid.m.peakRssKiB,
      archiveBytes: mid.archiveBytes, bgCores: mid.m.bgCores, runsWallS: st.samples.map((x) => x.m.wallS) });
    if (mid.preDone !== undefined) split = { preRestoreS: (mid.preDone - mid.m.startedAt) / 1000, restoreS: (mid.m.endedAt - mid.preDone) / 1000 };
  }
  const rated = rate(rows, input);
  const tarRestore = rows.find((r) => r.tool === "tar+gzip" && r.operation === "restore");
  const restoreSplit = split && { ...split, timeRatioVsTarGzip: tarRestore ? split.restoreS / tarRestore.wallS : null };
  notes.unshift(
    "page cache: warm (the tree was read once with tar before the first step; nothing was dropped); `sync` runs before every step, outside the clock",
    "peak RSS is /usr/bin/time's %M: the largest single process of the command (tar's gzip child is not added to tar)",
    "gzip level is the default 6 for every tool; ours and pigz compress on all cores, tar+gzip on one; restic uses its own zstd (auto) format",
    "ours backup = snapshot database + hash every file + write the archive + read it back to verify; ours restore also makes the pre-restore backup of the live data first",
  );
  if (restoreSplit) {
    notes.push(`ours restore split (from the pre-restore manifest's completedAt): pre-restore backup incl. process start ${restoreSplit.preRestoreS.toFixed(2)} s, ` +
      `then verify + stage + swap ${restoreSplit.restoreS.toFixed(2)} s` + (restoreSplit.timeRatioVsTarGzip === null ? "" : ` (= ${restoreSplit.timeRatioVsTarGzip.toFixed(2)}x tar -xzf)`));
  }
  if (repeat > 1) notes.push(`${repeat} rounds, each running every tool once in turn; the rows show each tool's median run (all wall times are in the JSON)`);
  const bg = rows.map((r) => r.bgCores).filter((b): b is number => b !== null);
  if (bg.length) notes.push(`other load on this machine during the steps: ${Math.min(...bg).toFixed(2)}-${Math.max(...bg).toFixed(2)} busy cores of ${machine.nproc} (column "bg cores", from /proc/stat minus the step's own CPU; includes kernel writeback). Ratios are only fair when it is similar across rows`);

  console.log(formatMachine(machine));
  console.log(formatInput(input));
  console.log("");
  console.log(formatTable(rated));
  console.log("");
  console.log("time ours/peer and mem ours/peer compare colab-backup's row with each peer's row for the same operation: above 1 means ours is slower / uses more memory.");
  for (const n of notes) console.log(`- ${n}`);
  const { dir: _dir, ...inputOut } = input;
  writeResults(outFile, { date: new Date().toISOString(), scale, repeat, cache: "warm", machine, input: inputOut, rows: rated, restoreSplit, notes });
  console.log(`\nresults written to ${path.relative(process.cwd(), outFile) || outFile}`);
}

main().catch((err: unknown) => {
  if (err instanceof StepError) process.stderr.write(`\nbenchmark failed: ${err.message}\n`);
  else process.stderr.write(`\nbenchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
