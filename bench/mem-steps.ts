// Peak RSS and wall time of each of ours' bench steps alone (no peers, no series), on one data set: for checking that memory
// stays flat as the data grows. Usage: npx tsx bench/mem-steps.ts --crm bench/data/crm4 [--work DIR] [--keep] [--cli bin/colab-backup.js]
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { churnCrm } from "./churn.ts";
import { measure, run, type Measured } from "./measure.ts";

const { values: args } = parseArgs({ options: { crm: { type: "string" }, work: { type: "string" }, keep: { type: "boolean" }, cli: { type: "string" } } });
if (!args.crm) throw new Error("--crm DIR is required (a generated bench CRM, e.g. bench/data/crm)");
// --cli runs another build of the CLI (e.g. a copy of bin/ and dist/ from before a change) on the same data.
const CLI = args.cli ? path.resolve(args.cli) : fileURLToPath(new URL("../bin/colab-backup.js", import.meta.url));
const work = path.resolve(args.work ?? path.join(tmpdir(), `colab-mem-steps-${process.pid}`));

rmSync(work, { recursive: true, force: true });
const live = path.join(work, "live");
const store = path.join(work, "store");
mkdirSync(store, { recursive: true });
cpSync(path.resolve(args.crm), live, { recursive: true });

const env = (crmRoot: string): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(BACKUP_|SMTP_|CRM_ROOT$|DATABASE_PATH$|UPLOADS_DIR$|LOGS_DIR$|NODE_OPTIONS$|TZ$)/.test(k)) e[k] = v;
  return { ...e, CRM_ROOT: crmRoot, BACKUP_DIR: store, BACKUP_EMAIL_ENABLED: "false", BACKUP_FORMAT: "v2" };
};
const step = async (name: string, cliArgs: string[], crmRoot = live): Promise<Measured> => {
  await run(["sync"]);
  const m = await measure([process.execPath, CLI, ...cliArgs, "--json"], { cwd: work, env: env(crmRoot) });
  console.log(`${name.padEnd(18)} ${m.wallS.toFixed(2).padStart(7)} s ${(m.peakRssKiB / 1024).toFixed(0).padStart(5)} MiB  load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
  return m;
};

try {
  const first = (JSON.parse((await step("backup", ["backup"])).stdout) as { id: string }).id;
  await step("backup-unchanged", ["backup"]);
  churnCrm(live, 1);
  await step("backup-churn", ["backup"]);
  const target = path.join(work, "restore-target");
  await run(["cp", "-a", live, target]);
  await step("restore", ["restore", first, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE"], target);
  rmSync(target, { recursive: true, force: true });
  const file = path.join(work, "export.tar.gz");
  await step("export", ["export", first, "--output", file]);
  rmSync(file, { force: true });
  const v = await step("verify", ["verify", first]);
  if (!(JSON.parse(v.stdout) as { report: { ok: boolean } }).report.ok) throw new Error(`verify failed: ${v.stdout.slice(0, 2000)}`);
} finally {
  if (!args.keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
