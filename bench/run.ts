// The benchmark: one generated CRM through colab-backup (v2, v1 or both) and its peers (tar+gzip, tar+pigz, restic), with ratios and the issue's targets.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { availableParallelism, cpus, release, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, DEFAULT_DIR, generateCrm } from "./generate.ts";
import { StepError, hasCommand, show, treeStats, versionLine } from "./measure.ts";
import { formatInput, formatMachine, formatTable, formatTargets, rate, targets, writeResults, type Input, type Machine, type Row } from "./report.ts";
import { oursTool, runRound, type Format, type RoundResult, type Sample } from "./sequence.ts";

const REPO = path.dirname(BENCH_DIR);
const CLI = path.join(REPO, "bin", "colab-backup.js");
const log = (line: string) => process.stderr.write(`${line}\n`);

const USAGE = `usage: npm run bench -- [options]
  --scale N     size of the generated CRM (1 = about 500 MB); default 1
  --dir DIR     where the generated CRM lives (reused when its scale matches)
  --repeat N    rounds to run; medians are reported; default 1
  --format F    v2, v1 or both; default v2
  --days N      daily backups at 1% churn after the first (0 skips the series); default 30
  --out FILE    results JSON; default bench/results/latest.json
  --keep        keep the work folders for inspection`;
function readArgs() {
  try {
    return parseArgs({
      options: {
        scale: { type: "string", default: "1" }, dir: { type: "string" }, repeat: { type: "string", default: "1" }, keep: { type: "boolean" }, out: { type: "string" },
        format: { type: "string", default: "v2" }, days: { type: "string", default: "30" }, help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}
const args = readArgs();
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const scale = Number(args.scale);
const repeat = Number(args.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a positive integer; got ${args.repeat}`);
const days = Number(args.days);
if (!Number.isInteger(days) || days < 0) throw new Error(`--days must be a whole number of daily backups (0 skips the series); got ${args.days}`);
const formats: Format[] = args.format === "both" ? ["v2", "v1"] : args.format === "v1" || args.format === "v2" ? [args.format] : [];
if (!formats.length) throw new Error(`--format must be v1, v2 or both; got ${args.format}`);
const outFile = path.resolve(args.out ?? path.join(BENCH_DIR, "results", "latest.json"));

/** Environment for our CLI: nothing inherited that would re-point it (paths, mail, NODE_OPTIONS), and the format asked for. */
function oursEnv(crmRoot: string, backupDir: string, format: Format): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(BACKUP_|SMTP_|CRM_ROOT$|DATABASE_PATH$|UPLOADS_DIR$|LOGS_DIR$|NODE_OPTIONS$|TZ$)/.test(k)) env[k] = v;
  }
  return { ...env, CRM_ROOT: crmRoot, BACKUP_DIR: backupDir, BACKUP_EMAIL_ENABLED: "false", BACKUP_FORMAT: format };
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
  const notes: string[] = [];
  if (!havePigz) notes.push("pigz is not installed: no tar+pigz rows");
  if (!haveRestic) notes.push("restic is not installed: no restic rows");

  const work = mkdtempSync(path.join(tmpdir(), "colab-bench-"));
  const label = (cmd: readonly string[]) =>
    show(cmd.map((a) => (a === process.execPath ? "node" : a))).split(crm).join("<crm>").split(work).join("<tmp>").split(`${REPO}/`).join("");
  const rounds: RoundResult[] = [];
  try {
    // Each round starts from a fresh copy of the data and fresh stores: the steps build on each other (first backup,
    // nothing changed, 1% churn, restore, export, verify, N days). Tools take turns within the round.
    for (let round = 1; round <= repeat; round++) {
      if (repeat > 1) log(`round ${round} of ${repeat}`);
      rounds.push(await runRound({ crm, work, cli: CLI, formats, days, havePigz, haveRestic, oursEnv, log }));
    }
  } finally {
    if (args.keep) log(`kept the work folder ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }

  const rows: Row[] = [];
  let split: { preRestoreS: number; restoreS: number } | null = null;
  const keys = [...new Map(rounds[0]!.samples.map((s) => [`${s.tool}\u0000${s.operation}`, s])).keys()];
  for (const key of keys) {
    const all = rounds.map((r) => r.samples.find((s) => `${s.tool}\u0000${s.operation}` === key)).filter((s): s is Sample => s !== undefined);
    const mid = [...all].sort((a, b) => a.m.wallS - b.m.wallS)[Math.floor((all.length - 1) / 2)]!;
    rows.push({ tool: mid.tool, operation: mid.operation, command: label(mid.cmd), wallS: mid.m.wallS, cpuS: mid.m.cpuS, peakRssKiB: mid.m.peakRssKiB,
      archiveBytes: mid.archiveBytes, bgCores: mid.m.bgCores, runsWallS: all.map((x) => x.m.wallS) });
    if (mid.preDone !== undefined && mid.tool === oursTool(formats[0]!)) split = { preRestoreS: (mid.preDone - mid.m.startedAt) / 1000, restoreS: (mid.m.endedAt - mid.preDone) / 1000 };
  }
  const last = rounds[rounds.length - 1]!;
  const rated = rate(rows, input);
  const goals = targets(rows, last.growth, last.series, last.s3);
  const tarRestore = rows.find((r) => r.tool === "tar+gzip" && r.operation === "restore");
  const restoreSplit = split && { ...split, timeRatioVsTarGzip: tarRestore ? split.restoreS / tarRestore.wallS : null };
  notes.unshift(
    `formats: ${formats.map((f) => `${oursTool(f)} = BACKUP_FORMAT=${f}`).join(", ")}; ratios compare ${oursTool(formats[0]!)} with the peers`,
    "every tool reads the same cp -a copy of the generated data, warmed once (tar -cf - | cat > /dev/null); `sync` runs before every step, outside the clock",
    "peak RSS is /usr/bin/time's %M: the largest single process of the command (tar's gzip child is not added to tar)",
    "gzip level is the default 6 for every tool; restic uses its own zstd (auto) format",
    "backup-unchanged = a second backup with nothing changed; backup-churn = a third after bench/churn.ts day 1 (1% of upload files rewritten, 1% of each table's rows changed)",
    "restore: ours puts the first backup back into a cp -a copy of the churned data (new inodes, so its pre-restore backup reads every file); tar and restic extract into an empty folder",
    "export and verify use ours' first backup; the export's peer is tar -czf (the backup row), verify's is gzip -dc <tar -czf archive> | sha256sum",
  );
  if (last.series) {
    const w = [...last.series.backupWallS].sort((a, b) => a - b);
    notes.push(`${last.series.days} daily backups (--days) at 1% churn each (churn days 2..${last.series.days + 1}), into the same store, which also holds the first, nothing-changed, 1%-churn and pre-restore backups: ` +
      `median ${w[Math.floor((w.length - 1) / 2)]!.toFixed(2)} s each, peak RSS ${(last.series.peakRssKiB / 1024).toFixed(0)} MiB; store ${(last.series.storeBytesAfter / 1e6).toFixed(1)} MB = ${last.series.ratio.toFixed(2)}x the first backup's ${(last.series.firstBackupBytes / 1e6).toFixed(1)} MB`);
  }
  if (last.s3) notes.push(`LocalStack S3 (in-process, requests counted by the SDK's middleware): first backup ${last.s3.first} requests in ${last.s3.firstWallS.toFixed(1)} s, nothing changed ${last.s3.unchanged} in ${last.s3.unchangedWallS.toFixed(1)} s`);
  if (last.exportBytes !== null) notes.push(`the export is ${(last.exportBytes / 1e6).toFixed(1)} MB`);
  if (restoreSplit) {
    notes.push(`ours restore split (from the pre-restore manifest's completedAt): pre-restore backup incl. process start ${restoreSplit.preRestoreS.toFixed(2)} s, ` +
      `then verify + stage + swap ${restoreSplit.restoreS.toFixed(2)} s` + (restoreSplit.timeRatioVsTarGzip === null ? "" : ` (= ${restoreSplit.timeRatioVsTarGzip.toFixed(2)}x tar -xzf)`));
  }
  if (repeat > 1) notes.push(`${repeat} rounds, each running the whole sequence from a fresh copy; the rows show each step's median run (all wall times are in the JSON); targets use the last round's sizes`);
  const bg = rows.map((r) => r.bgCores).filter((b): b is number => b !== null);
  if (bg.length) notes.push(`other load on this machine during the steps: ${Math.min(...bg).toFixed(2)}-${Math.max(...bg).toFixed(2)} busy cores of ${machine.nproc} (column "bg cores", from /proc/stat minus the step's own CPU; includes kernel writeback). Ratios are only fair when it is similar across rows`);

  console.log(formatMachine(machine));
  console.log(formatInput(input));
  console.log("");
  console.log(formatTable(rated));
  console.log("");
  console.log(`targets (issue 8), scale ${scale}:`);
  console.log(formatTargets(goals));
  console.log("");
  console.log("time ours/peer and mem ours/peer compare colab-backup's row with each peer's row for the same operation: above 1 means ours is slower / uses more memory.");
  for (const n of notes) console.log(`- ${n}`);
  const { dir: _dir, ...inputOut } = input;
  writeResults(outFile, { date: new Date().toISOString(), scale, repeat, cache: "warm", formats, machine, input: inputOut, rows: rated, targets: goals, series: last.series, exportBytes: last.exportBytes, restoreSplit, s3: last.s3, notes });
  console.log(`\nresults written to ${path.relative(process.cwd(), outFile) || outFile}`);
}

main().catch((err: unknown) => {
  if (err instanceof StepError) process.stderr.write(`\nbenchmark failed: ${err.message}\n`);
  else process.stderr.write(`\nbenchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
