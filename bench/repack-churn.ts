// Store size under daily churn with retention and a cleanup after every backup, as the scheduler runs them: one store
// whose cleanups repack, one whose cleanups only delete unreferenced packs (--max-repack 0), same CRM, same days.
// Simulated days (a day apart, starting past the pack grace) drive retention; prints both stores' pack bytes each day.
// Usage: npx tsx bench/repack-churn.ts [--dir bench/data/crm] [--days 30] [--daily 7 --weekly 4 --monthly 3]
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runBackup } from "../core/backup.ts";
import { runCleanup } from "../core/cleanup.ts";
import { loadConfig } from "../core/config.ts";
import { makeEngine, type Engine } from "../core/engine.ts";
import { FsStorage } from "../core/storage/fs-storage.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { churnCrm } from "./churn.ts";
import { DEFAULT_DIR } from "./generate.ts";
import { run } from "./measure.ts";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string", default: DEFAULT_DIR },
    days: { type: "string", default: "30" },
    daily: { type: "string", default: "7" },
    weekly: { type: "string", default: "4" },
    monthly: { type: "string", default: "3" },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);
const DAY = 86_400_000;
const MB = (n: number) => (n / 1e6).toFixed(1);

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), "colab-repack-churn-"));
  const live = path.join(work, "live");
  try {
    await run(["cp", "-a", path.resolve(args.dir), live]);
    const start = Date.now() + 2 * PACK_GRACE_MS;
    let day = 0;
    const engineFor = (name: string, maxRepackBytes: number | undefined) => {
      const store = path.join(work, name);
      const temp = path.join(store, "temp");
      mkdirSync(temp, { recursive: true });
      const config = loadConfig({
        CRM_ROOT: live, BACKUP_DIR: store, BACKUP_FORMAT: "v2", BACKUP_EMAIL_ENABLED: "false",
        BACKUP_RETENTION_DAILY: args.daily, BACKUP_RETENTION_WEEKLY: args.weekly, BACKUP_RETENTION_MONTHLY: args.monthly,
      });
      const base = makeEngine({ config, storage: new FsStorage(store, { tempDir: temp }), workRoot: temp });
      const engine: Engine = { ...base, now: () => new Date(start + day * DAY) };
      const later: Engine = { ...base, now: () => new Date(start + day * DAY + DAY / 2) };
      return { name, engine, later, maxRepackBytes, packBytes: async () => (await engine.storage.list("data/")).reduce((n, o) => n + o.size, 0), repacked: 0, rewritten: 0, cleanupS: 0 };
    };
    const stores = [engineFor("repack", undefined), engineFor("gc-only", 0)];
    log(`days ${args.days}, retention daily ${args.daily} weekly ${args.weekly} monthly ${args.monthly}; load ${(await run(["cat", "/proc/loadavg"])).stdout.trim()}`);
    log(`day | ${stores.map((s) => `${s.name} MB (repacked/rewritten MB, cleanup s)`).join(" | ")}`);
    const days = Number(args.days);
    for (day = 0; day <= days; day++) {
      if (day > 0) churnCrm(live, day);
      const cols: string[] = [];
      for (const s of stores) {
        await runBackup(s.engine, { type: "daily" });
        const t = performance.now();
        const out = await runCleanup(s.later, { actor: "bench", maxRepackBytes: s.maxRepackBytes });
        s.cleanupS = (performance.now() - t) / 1000;
        s.repacked += out.repack.freeableBytes;
        s.rewritten += out.repack.rewrittenBytes;
        cols.push(`${MB(await s.packBytes())} (${MB(out.repack.freeableBytes)}/${MB(out.repack.rewrittenBytes)}, ${s.cleanupS.toFixed(1)} s)`);
      }
      log(`${String(day).padStart(3)} | ${cols.join(" | ")}`);
    }
    // One more cleanup a day later without a backup: the last repack's old packs go, as the next scheduled run does.
    day = days + 1;
    for (const s of stores) await runCleanup(s.later, { actor: "bench", maxRepackBytes: 0 });
    const [a, b] = [await stores[0]!.packBytes(), await stores[1]!.packBytes()];
    log(`after ${days} days and a cleanup the day after: repack ${MB(a)} MB, gc only ${MB(b)} MB (${((1 - a / b) * 100).toFixed(1)}% less); repack freed ${MB(stores[0]!.repacked)} MB in total, rewriting ${MB(stores[0]!.rewritten)} MB; load ${(await run(["cat", "/proc/loadavg"])).stdout.trim()}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
