// Measures a v2 restore of all components (pre-restore backup included) after a few uploads changed, against `tar -xzf`.
// Usage: npx tsx bench/restore-reuse.ts --dir /tmp/crm02r [--churn 5] [--repeat 3]. The generated CRM is copied, never touched.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR } from "./generate.ts";
import { measure, run } from "./measure.ts";
import { decodeManifest } from "../core/manifest-codec.ts";

const CLI = path.join(path.dirname(BENCH_DIR), "bin", "colab-backup.js");
const log = (line: string) => process.stderr.write(`${line}\n`);
const { values: args } = parseArgs({ options: { dir: { type: "string" }, churn: { type: "string", default: "5" }, repeat: { type: "string", default: "3" } } });
if (!args.dir) throw new Error("restore-reuse: --dir is required; generate one with `npx tsx bench/generate.ts --scale 0.2 --dir /tmp/crm02r`");
const source = path.resolve(args.dir);
const churn = Number(args.churn);
const repeat = Number(args.repeat);

function env(crm: string, store: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(BACKUP_|SMTP_|CRM_ROOT$|NODE_OPTIONS$)/.test(k)) out[k] = v;
  return { ...out, CRM_ROOT: crm, BACKUP_DIR: store, BACKUP_FORMAT: "v2", BACKUP_EMAIL_ENABLED: "false" };
}

function uploadsOf(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? uploadsOf(dir, r) : e.isFile() ? [r] : [];
  });
}

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), "colab-restore-reuse-"));
  try {
    const crm = path.join(work, "crm");
    const store = path.join(work, "store");
    await run(["cp", "-a", source, crm]);
    mkdirSync(store);
    const backup = JSON.parse((await run([process.execPath, CLI, "backup", "--json"], { cwd: work, env: env(crm, store) })).stdout) as { id: string };
    const manifest = decodeManifest(readFileSync(path.join(store, "manual", `${backup.id}.json`))) as Record<string, any>;
    const tarball = path.join(work, "crm.tar.gz");
    await run(["tar", "-czf", tarball, "-C", crm, "."]);
    const uploads = uploadsOf(path.join(crm, "uploads"));
    const rows: Record<string, unknown>[] = [];
    for (let round = 1; round <= repeat; round++) {
      // A few uploads change after the backup (a byte flipped in place), as between a nightly backup and a restore.
      for (let i = 0; i < churn; i++) {
        const file = path.join(crm, "uploads", uploads[(i * 7919 + round) % uploads.length]!);
        const body = readFileSync(file);
        if (body.length > 0) body[0] = body[0]! ^ 0xff;
        writeFileSync(file, body);
      }
      await new Promise((r) => setTimeout(r, 2100)); // past the window in which a fresh ctime is not trusted
      await run(["sync"]);
      const ours = await measure([process.execPath, CLI, "restore", backup.id, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE", "--json"], { cwd: work, env: env(crm, store) });
      const out = JSON.parse(ours.stdout);
      const pre = decodeManifest(readFileSync(path.join(store, "pre-restore", `${out.preRestoreBackupId}.json`))) as Record<string, any>;
      for (const f of manifest.components.uploads.files) {
        const sha = createHash("sha256").update(readFileSync(path.join(crm, f.path))).digest("hex");
        if (sha !== f.sha256) throw new Error(`restore-reuse: ${f.path} differs from the backup after the restore`);
      }
      const target = path.join(work, `tar-${round}`);
      mkdirSync(target);
      await run(["sync"]);
      const tar = await measure(["tar", "-xzf", tarball, "-C", target]);
      rmSync(target, { recursive: true, force: true });
      const row = {
        round, oursS: ours.wallS, tarS: tar.wallS, ratio: +(ours.wallS / tar.wallS).toFixed(2), oursPeakMiB: Math.round(ours.peakRssKiB / 1024),
        staged: out.staged, preRestore: { filesRead: pre.stored.filesRead, filesReused: pre.stored.filesReused },
      };
      log(JSON.stringify(row));
      rows.push(row);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = { source, bytes: statSync(tarball).size, churn, oursMedianS: median(rows.map((r) => r.oursS as number)), tarMedianS: median(rows.map((r) => r.tarS as number)) };
    console.log(JSON.stringify({ ...summary, ratio: +(summary.oursMedianS / summary.tarMedianS).toFixed(2), rows }, null, 2));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
