// Where ours spends its time: runs one backup (or restore) under `node --cpu-prof` on the generated CRM and prints the top hotspots.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, DEFAULT_DIR, generateCrm } from "./generate.ts";
import { StepError, measure, run } from "./measure.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO = path.dirname(BENCH_DIR);
const { values: args } = parseArgs({ options: { scale: { type: "string", default: "1" }, dir: { type: "string" }, top: { type: "string", default: "15" }, restore: { type: "boolean" } } });

/** Self time per function and per file; idle and GC are listed as they are, so main-thread waiting shows up. */
function summarize(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? url.replace(`file://${REPO}/`, "").replace(/^.*node_modules\//, "node_modules/") : "";
    const key = `${functionName || "(anonymous)"}${where ? `  ${where}:${lineNumber + 1}` : ""}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const f = where ? where.replace(/:\d+$/, "") : functionName.startsWith("(") ? functionName : "(native/builtin)";
    file.set(f, (file.get(f) ?? 0) + us);
  }
  const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `  ${(us / 1e6).toFixed(2).padStart(7)} s ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
  return `main thread, ${(total / 1e6).toFixed(2)} s sampled\n\ntop functions by self time:\n${list(fn)}\n\ntop files by self time:\n${list(file)}`;
}

async function main() {
  const gen = generateCrm({ dir: args.dir ?? DEFAULT_DIR, scale: Number(args.scale), log: (l) => process.stderr.write(`${l}\n`) });
  const work = mkdtempSync(path.join(tmpdir(), "colab-bench-prof-"));
  try {
    const store = path.join(work, "store");
    mkdirSync(store); // an explicit BACKUP_DIR must exist
    const profDir = path.join(work, "prof");
    const env: NodeJS.ProcessEnv = { ...process.env, CRM_ROOT: gen.dir, BACKUP_DIR: store, BACKUP_EMAIL_ENABLED: "false", COLAB_BACKUP_PHASES: "1" };
    delete env.NODE_OPTIONS;
    const cli = path.join(REPO, "bin", "colab-backup.js");
    await run(["bash", "-o", "pipefail", "-c", 'tar -cf - -C "$1" . | cat > /dev/null', "bash", gen.dir]);
    let cmd = [process.execPath, "--cpu-prof", `--cpu-prof-dir=${profDir}`, cli, "backup", "--json"];
    if (args.restore) {
      const out = await run([process.execPath, cli, "backup", "--json"], { cwd: work, env });
      const id = (JSON.parse(out.stdout) as { id: string }).id;
      const target = path.join(work, "crm");
      await run(["cp", "-a", gen.dir, target]);
      env.CRM_ROOT = target;
      cmd = [process.execPath, "--cpu-prof", `--cpu-prof-dir=${profDir}`, cli, "restore", id, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE", "--json"];
    }
    await run(["sync"]);
    const m = await measure(cmd, { cwd: work, env });
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new StepError(cmd.join(" "), 0, `no .cpuprofile written in ${profDir}`);
    console.log(`ours ${args.restore ? "restore" : "backup"} under --cpu-prof: wall ${m.wallS.toFixed(2)} s, cpu ${m.cpuS.toFixed(2)} s (all threads), peak RSS ${(m.peakRssKiB / 1024).toFixed(0)} MiB`);
    console.log("(gzip and SHA-256 of big buffers may run in libuv's thread pool and then appear only as main-thread idle time)\n");
    // The v2 writer's phase timings (core/v2/phase-clock.ts): what overlaps, what the backup waits on, CPU in the threads.
    if (m.stderr.includes("phases (start")) console.log(`${m.stderr.slice(m.stderr.indexOf("phases (start")).trimEnd()}\n`);
    console.log(summarize(JSON.parse(readFileSync(path.join(profDir, file), "utf8")) as CpuProfile, Number(args.top)));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`profile failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
