// Store growth under daily churn, on its own: a copy of the generated CRM backed up once, then after each of N churn days,
// by this checkout's CLI and optionally by another one (--baseline, e.g. main's bin/colab-backup.js) and restic, each into
// its own store. Prints each store's bytes after every backup and each backup's wall time, and the ratio to the first.
// With --bench-steps the stores also get what `npm run bench` puts in its store before its daily series: a backup with
// nothing changed, churn day 1 and a backup of it, and a restore of the first backup into a copy of the CRM (its
// pre-restore backup); the days are then churn days 2..N+1, so the last ratio is the bench's 30-day row.
// --cli runs another copy of this checkout as "ours" (a snapshot, so editing the sources cannot change a running series).
// Usage: npx tsx bench/store-growth.ts [--dir bench/data/crm] [--days 10] [--baseline /work/main/bin/colab-backup.js] [--restic] [--bench-steps] [--cli PATH]
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
  options: { dir: { type: "string", default: DEFAULT_DIR }, days: { type: "string", default: "10" }, baseline: { type: "string" }, restic: { type: "boolean", default: false }, keep: { type: "boolean", default: false },
    "bench-steps": { type: "boolean", default: false }, cli: { type: "string" } },
});

function env(crm: string, store: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(BACKUP_|SMTP_|CRM_ROOT$|DATABASE_PATH$|UPLOADS_DIR$|LOGS_DIR$|NODE_OPTIONS$)/.test(k)) out[k] = v;
  return { ...out, CRM_ROOT: crm, BACKUP_DIR: store, BACKUP_FORMAT: "v2", BACKUP_EMAIL_ENABLED: "false" };
}

interface Tool {
  name: string;
  store: string;
  backup: (type: string) => Promise<{ wallS: number; peakRssKiB: number }>;
  bytes: () => Promise<number>;
  /** Ours only: restore the first backup into a copy of the live CRM (as the bench's restore row), then drop the copy. */
  restoreFirst?: (work: string) => Promise<void>;
}

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
      let firstId: string | undefined;
      return {
        // As bench/sequence.ts counts it: everything the store keeps but its temp work files.
        name, store, bytes: async () => { const s = await treeStats(store); return s.bytes - (s.byTop.temp?.bytes ?? 0); },
        backup: async (type) => {
          const m = await measure([process.execPath, bin, "backup", "--type", type, "--json"], { cwd: work, env: env(live, store) });
          firstId ??= (JSON.parse(m.stdout) as { id: string }).id;
          return m;
        },
        restoreFirst: async (dir) => {
          const target = path.join(dir, `restore-${name}`);
          await run(["cp", "-a", live, target]);
          await measure([process.execPath, bin, "restore", firstId!, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE", "--json"], { cwd: work, env: env(target, store) });
          rmSync(target, { recursive: true, force: true });
        },
      };
    };
    tools.push(cli("ours", args.cli ? path.resolve(args.cli) : OURS));
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
    const skip = args["bench-steps"] ? 1 : 0;
    if (args["bench-steps"]) {
      for (const t of tools) await t.backup("manual"); // nothing changed
      churnCrm(live, 1);
      for (const t of tools) await t.backup("manual");
      for (const t of tools) await t.restoreFirst?.(work);
      log(`bench steps (unchanged, churn day 1, restore of the first): ${(await Promise.all(tools.map(async (t) => `${t.name} ${((await t.bytes()) / 1e6).toFixed(1)} MB`))).join(" | ")}`);
    }
    for (let day = 1; day <= Number(args.days); day++) {
      churnCrm(live, day + skip);
      await round(day);
    }
  } finally {
    if (!args.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

await main();
