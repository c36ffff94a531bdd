// Benchmark plumbing: runs a command under /usr/bin/time (wall s, peak RSS), fails loudly with its stderr, and sizes trees.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { lstat, opendir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

const TIME = "/usr/bin/time";

/** A step failed: carries the command and its stderr so the benchmark can exit non-zero with them. */
export class StepError extends Error {
  constructor(readonly command: string, readonly exitCode: number | null, readonly stderr: string) {
    super(`command failed (exit ${exitCode ?? "signal"}): ${command}\n--- its stderr ---\n${stderr.trim() || "(empty)"}`);
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Epoch ms around the child's lifetime, as seen by this process. */
  startedAt: number;
  endedAt: number;
}

export interface Measured extends RunResult {
  wallS: number;
  cpuS: number;
  peakRssKiB: number;
  /** Cores kept busy by everything else on the machine meanwhile (from /proc/stat); null where unavailable. */
  bgCores: number | null;
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** Busy CPU seconds of the whole machine so far (user, nice, system, irq, softirq, steal), or null off Linux. */
function machineBusyS(): number | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / CLK_TCK;
  } catch {
    return null;
  }
}

export const show = (cmd: readonly string[]) => cmd.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");

/** Runs `cmd` to completion, collecting stdout and stderr; throws StepError unless it exits 0. */
export function run(cmd: readonly string[], options: RunOptions = {}, label = show(cmd)): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new StepError(label, null, e.message)));
    child.on("close", (code) => {
      const endedAt = Date.now();
      const result = { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), startedAt, endedAt };
      if (code === 0) resolve(result);
      else reject(new StepError(label, code, result.stderr || result.stdout.slice(-4000)));
    });
  });
}

/** Runs `cmd` under `/usr/bin/time -f '%e %M %U %S'`: wall seconds, peak RSS (KiB, largest process), user+sys CPU. */
export async function measure(cmd: readonly string[], options: RunOptions = {}): Promise<Measured> {
  if (!existsSync(TIME)) throw new StepError(TIME, null, `${TIME} is not installed (Debian/Ubuntu: apt-get install time)`);
  const timeFile = path.join(tmpdir(), `colab-bench-time-${process.pid}-${Date.now()}.txt`);
  try {
    const busyBefore = machineBusyS();
    const result = await run([TIME, "-f", "%e %M %U %S", "-o", timeFile, ...cmd], options, show(cmd));
    // GNU time appends its line after any "Command exited with non-zero status" line; the last line is ours.
    const last = readFileSync(timeFile, "utf8").trim().split("\n").pop() ?? "";
    const [wall, rss, user, sys] = last.split(" ").map(Number);
    if (![wall, rss, user, sys].every((n) => Number.isFinite(n))) throw new StepError(show(cmd), 0, `could not parse /usr/bin/time output: ${JSON.stringify(last)}`);
    const busyAfter = machineBusyS();
    const elapsed = (result.endedAt - result.startedAt) / 1000;
    const bgCores = busyBefore === null || busyAfter === null || elapsed <= 0 ? null : Math.max(0, busyAfter - busyBefore - user! - sys!) / elapsed;
    return { ...result, wallS: wall!, peakRssKiB: rss!, cpuS: user! + sys!, bgCores };
  } finally {
    rmSync(timeFile, { force: true });
  }
}

export function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1" >/dev/null 2>&1', "sh", name]).status === 0;
}

/** First line of `cmd --version` (or of the given args), or "unknown". */
export function versionLine(cmd: string, args: string[] = ["--version"]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] || "unknown";
}

export interface TreeStats {
  files: number;
  bytes: number;
  byTop: Record<string, { files: number; bytes: number }>;
}

/** Regular files and their bytes under `root` (links not followed), also per top-level entry. */
export async function treeStats(root: string): Promise<TreeStats> {
  const stats: TreeStats = { files: 0, bytes: 0, byTop: {} };
  const visit = async (dir: string, top: string | undefined) => {
    for await (const d of await opendir(dir)) {
      const full = path.join(dir, d.name);
      const key = top ?? d.name;
      if (d.isDirectory()) await visit(full, key);
      else if (d.isFile()) {
        const { size } = await lstat(full);
        stats.files++;
        stats.bytes += size;
        const t = (stats.byTop[key] ??= { files: 0, bytes: 0 });
        t.files++;
        t.bytes += size;
      }
    }
  };
  await visit(root, undefined);
  return stats;
}

/** Bytes of regular files under `root` (for archive sizes of repositories such as restic's). */
export async function treeBytes(root: string): Promise<number> {
  return (await treeStats(root)).bytes;
}
