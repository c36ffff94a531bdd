// Store growth under daily churn, on its own: a copy of the generated CRM backed up once, then after each of N churn days,
// by this checkout's CLI and optionally by another one (--baseline, e.g. main's bin/colab-backup.js) and restic, each into
// its own store. Prints each store's bytes after every backup and each backup's wall time, and the ratio to the first.
// Usage: npx tsx bench/store-growth.ts [--dir bench/data/crm] [--days 10] [--baseline /work/main/bin/colab-backup.js] [--restic]
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { churnCrm } from "./churn.ts";
import { BENCH_DIR, DEFAULT_DIR } from "./generate.ts";
import { hasCommand, measure, run, treeBytes, treeStats } from "./measure.ts";

const OURS = path.join(path.dirname(BENCH_DIR), "bin", "colab-backup.js");
const log = (line: string) => process.stderr.write(`${line}\n`);
const { values: args } = parseArgs({
  options: { dir: { type: "string", default: DEFAULT_DIR }, days: { type: "string", default: "10" }, baseline: { type: "string" }, restic: { type: "boolean", default: false }, keep: { type: "boolean", default: false } },
});

function env(crm: string, store: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(BACKUP_|SMTP_|CRM_ROOT$|DATABASE_PATH$|UPLOADS_DIR$|LOGS_DIR$|NODE_OPTIONS$)/.test(k)) out[k] = v;
  return { ...out, CRM_ROOT: crm, BACKUP_DIR: store, BACKUP_FORMAT: "v2", BACKUP_EMAIL_ENABLED: "false" };
}

interface Tool { name: string; store: string; backup: (type: string) => Promise<{ wallS: number; peakRssKiB: number }>; bytes: () => Promise<number> }

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), "colab-store-growth-"));
  const live = path.join(work, "live");
  try {
    await run(["cp", "-a", path.resolve(args.dir), live]);
    const tar = path.join(work, "crm.tar.gz");
    await run(["tar", "-czf", tar, "-C", live, "."]);
    const tarBytes = statSync(tar).size;
    rmSync(tar);
    const tools: Tool[] = [];
    const cli = (name: string, bin: string): Tool => {
      const store = path.join(work, name);
      mkdirSync(store);
      return {
        // As bench/sequence.ts counts it: everything the store keeps but its temp work files.
        name, store, bytes: async () => { const s = await treeStats(store); return s.bytes - (s.byTop.temp?.bytes ?? 0); },
        backup: (type) => measure([process.execPath, bin, "backup", "--type", type, "--json"], { cwd: work, env: env(live, store) }),
      };
    };
    tools.push(cli("ours", OURS));
    if (args.baseline) tools.push(cli("baseline", path.resolve(args.baseline)));
    if (args.restic && hasCommand("restic")) {
      const repo = path.join(work, "restic");
      const renv = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: "colab-bench", RESTIC_CACHE_DIR: path.join(work, "restic-cache") };
      await run(["restic", "init", "--quiet"], { env: renv });
      tools.push({ name: "restic", store: repo, bytes: () => treeBytes(repo), backup: () => measure(["restic", "backup", "--quiet", "--host", "bench", "."], { cwd: live, env: renv }) });
    }
    log(`tar -czf: ${(tarBytes / 1e6).toFixed(1)} MB; load ${(await run(["cat", "/proc/loadavg"])).stdout.trim()}`);
    const first = new Map<string, number>();
    const show = async (day: number, times: Map<string, { wallS: number; peakRssKiB: number }>) => {
      const parts: string[] = [];
      for (const t of tools) {
        const b = await t.bytes();
        if (day === 0) first.set(t.name, b);
        parts.push(`${t.name} ${(b / 1e6).toFixed(1)} MB (${(b / first.get(t.name)!).toFixed(3)}x${day === 0 && t.name !== "restic" ? `, ${(b / tarBytes).toFixed(3)}x tar` : ""}) ${times.get(t.name)!.wallS.toFixed(1)} s ${Math.round(times.get(t.name)!.peakRssKiB / 1024)} MiB`);
      }
      log(`day ${day}: ${parts.join(" | ")} | load ${(await run(["cat", "/proc/loadavg"])).stdout.trim().split(" ").slice(0, 3).join(" ")}`);
    };
    const round = async (day: number) => {
      const times = new Map<string, { wallS: number; peakRssKiB: number }>();
      for (const t of tools) times.set(t.name, await t.backup(day === 0 ? "manual" : "daily"));
      await show(day, times);
    };
    await round(0);
    for (let day = 1; day <= Number(args.days); day++) {
      churnCrm(live, day);
      await round(day);
    }
  } finally {
    if (!args.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

await main();
