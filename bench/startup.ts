// Start-up time of the CLI: `colab-backup --version` and `list` from the compiled dist/ and from the TypeScript sources, against `node -e 0`.
// Usage: npx tsx bench/startup.ts [--runs 20]   (needs `npm run build` first; prints medians and ratios, writes bench/results/startup.json)
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const REPO = path.join(import.meta.dirname, "..");
const CLI = path.join(REPO, "bin", "colab-backup.js");
const { values } = parseArgs({ options: { runs: { type: "string", default: "20" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer; got ${values.runs}`);
if (!existsSync(path.join(REPO, "dist", ".built"))) throw new Error("bench startup: dist/ is not built; run `npm run build` first");

const cwd = mkdtempSync(path.join(tmpdir(), "colab-startup-"));
const env = { PATH: process.env.PATH, HOME: process.env.HOME };
const rows: { name: string; args: string[]; env?: NodeJS.ProcessEnv }[] = [
  { name: "node -e 0", args: ["-e", "0"] },
  { name: "colab-backup --version", args: [CLI, "--version"] },
  { name: "colab-backup --version (sources, tsx)", args: [CLI, "--version"], env: { COLAB_BACKUP_FROM_SOURCE: "1" } },
  { name: "colab-backup list --json", args: [CLI, "list", "--json"] },
  { name: "colab-backup list --json (sources, tsx)", args: [CLI, "list", "--json"], env: { COLAB_BACKUP_FROM_SOURCE: "1" } },
];
// One run first so the demo CRM and the store exist and every timed `list` does the same work.
execFileSync(process.execPath, [CLI, "list", "--json"], { cwd, env, stdio: "ignore" });
const times = rows.map(() => [] as number[]);
// Rounds interleave the rows, so a busy spell on a shared machine slows all of them rather than one.
for (let r = 0; r < runs; r++) {
  rows.forEach((row, i) => {
    const start = process.hrtime.bigint();
    const out = spawnSync(process.execPath, row.args, { cwd, env: { ...env, ...row.env }, stdio: "ignore" });
    if (out.status !== 0) throw new Error(`bench startup: ${row.name} exited ${out.status}`);
    times[i]!.push(Number(process.hrtime.bigint() - start) / 1e6);
  });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const base = median(times[0]!);
const result = rows.map((row, i) => ({ name: row.name, medianMs: Math.round(median(times[i]!)), ratio: Number((median(times[i]!) / base).toFixed(2)) }));
process.stdout.write(`${"command".padEnd(42)} ${"median ms".padStart(9)}  x node -e 0   (${runs} runs each, node ${process.version})\n`);
for (const r of result) process.stdout.write(`${r.name.padEnd(42)} ${String(r.medianMs).padStart(9)}  ${r.ratio.toFixed(2).padStart(11)}\n`);
mkdirSync(path.join(REPO, "bench", "results"), { recursive: true });
writeFileSync(path.join(REPO, "bench", "results", "startup.json"), JSON.stringify({ at: new Date().toISOString(), node: process.version, runs, rows: result }, null, 2) + "\n");
