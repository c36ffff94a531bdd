// The bench's restore row on its own, repeated: the first v2 backup restored into a `cp -a` copy of the data after a 1% churn day, beside `tar -xzf`.
// Usage: npx tsx bench/restore-churned.ts [--dir bench/data/crm] [--repeat 3] [--keep-work DIR] [--cli PATH]. The generated CRM is copied, never touched.
// --cli runs another build of the CLI (a copy of bin/ and dist/ from before a change), with its own --keep-work folder.
// COLAB_RESTORE_TIMING=1 is passed to ours, so its phase timings (stderr) are printed per round.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { churnCrm } from "./churn.ts";
import { BENCH_DIR, DEFAULT_DIR } from "./generate.ts";
import { measure, run } from "./measure.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);
const { values: args } = parseArgs({ options: { dir: { type: "string", default: DEFAULT_DIR }, repeat: { type: "string", default: "3" }, "keep-work": { type: "string" }, cli: { type: "string" } } });
const CLI = args.cli ? path.resolve(args.cli) : path.join(path.dirname(BENCH_DIR), "bin", "colab-backup.js");

function env(crm: string, store: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(BACKUP_|SMTP_|CRM_ROOT$|DATABASE_PATH$|UPLOADS_DIR$|LOGS_DIR$|NODE_OPTIONS$)/.test(k)) out[k] = v;
  return { ...out, CRM_ROOT: crm, BACKUP_DIR: store, BACKUP_FORMAT: "v2", BACKUP_EMAIL_ENABLED: "false", COLAB_RESTORE_TIMING: "1" };
}

async function main() {
  // --keep-work reuses a prepared folder (live copy, store with first + churn backups, tarball) across invocations.
  const work = args["keep-work"] ? path.resolve(args["keep-work"]) : mkdtempSync(path.join(tmpdir(), "colab-restore-churned-"));
  const live = path.join(work, "live");
  const store = path.join(work, "store");
  const tarball = path.join(work, "crm.tar.gz");
  const idFile = path.join(work, "first-id");
  try {
    if (!existsSync(idFile)) {
      rmSync(work, { recursive: true, force: true });
      mkdirSync(store, { recursive: true });
      await run(["cp", "-a", path.resolve(args.dir), live]);
      await run(["tar", "-czf", tarball, "-C", live, "."]);
      const first = JSON.parse((await run([process.execPath, CLI, "backup", "--json"], { cwd: work, env: env(live, store) })).stdout) as { id: string };
      churnCrm(live, 1);
      await run([process.execPath, CLI, "backup", "--json"], { cwd: work, env: env(live, store) });
      await run(["sh", "-c", `printf %s "$1" > "$2"`, "sh", first.id, idFile]);
    }
    const id = (await run(["cat", idFile])).stdout.trim();
    for (let round = 1; round <= Number(args.repeat); round++) {
      const target = path.join(work, "target", "crm");
      rmSync(path.dirname(target), { recursive: true, force: true });
      mkdirSync(path.dirname(target));
      await run(["cp", "-a", live, target]);
      await run(["sync"]);
      const ours = await measure([process.execPath, CLI, "restore", id, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE", "--json"], { cwd: work, env: env(target, store) });
      const timing = ours.stderr.split("\n").filter((l) => l.startsWith("restore timing")).join("\n");
      rmSync(path.dirname(target), { recursive: true, force: true });
      const tarDir = path.join(work, "tar");
      rmSync(tarDir, { recursive: true, force: true });
      mkdirSync(tarDir);
      await run(["sync"]);
      const tar = await measure(["tar", "-xzf", tarball, "-C", tarDir]);
      rmSync(tarDir, { recursive: true, force: true });
      const out = JSON.parse(ours.stdout) as { staged?: unknown };
      log(`round ${round}: ours ${ours.wallS.toFixed(2)} s, tar -xzf ${tar.wallS.toFixed(2)} s, ratio ${(ours.wallS / tar.wallS).toFixed(2)}, peak ${Math.round(ours.peakRssKiB / 1024)} MiB, staged ${JSON.stringify(out.staged)}`);
      if (timing) log(timing);
    }
  } finally {
    if (!args["keep-work"]) rmSync(work, { recursive: true, force: true });
  }
}

await main();
