// Shared tools of the fault suite: the CLI as a killable child process, a seeded PRNG, and views of a CRM and a store.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { dbContent, treeDigest } from "../helpers/crm.ts";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = path.join(REPO, "bin", "colab-backup.js");

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The CLI as a child process a test can SIGKILL; the environment is only PATH, HOME and what the test passes. */
export function spawnCli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): { child: ChildProcess; done: Promise<Run> } {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started })),
  );
  return { child, done };
}

export function cli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return spawnCli(args, opts).done;
}

/** The CLI's --json answer, or a failure that shows what it printed. */
export function json<T = Record<string, unknown>>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`expected JSON from the CLI (exit ${run.code}, signal ${run.signal}); stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/** mulberry32: a tiny seeded PRNG, so a failing trial can be replayed from the seed in the table's note. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Adds `bytes` of incompressible uploads in a few files, so a backup or restore takes long enough to be hit mid-way. */
export function addBulk(crmRoot: string, bytes: number, seed = 1, files = 4): void {
  const next = rng(seed);
  mkdirSync(path.join(crmRoot, "uploads", "bulk"), { recursive: true });
  for (let i = 0; i < files; i++) {
    const buf = Buffer.alloc(Math.floor(bytes / files));
    for (let j = 0; j < buf.length; j += 4) buf.writeUInt32LE(Math.floor(next() * 2 ** 32), j);
    writeFileSync(path.join(crmRoot, "uploads", "bulk", `blob-${i}.bin`), buf);
  }
}

export interface CrmState {
  database: Record<string, unknown[]> | null;
  uploads: ReturnType<typeof treeDigest>;
  config: ReturnType<typeof treeDigest>;
  logs: ReturnType<typeof treeDigest>;
}

const CONFIG = ["package.json", "package-lock.json", "prisma/schema.prisma", ".env.example", ".env", ".env.production"];

/** All four components: the database by content (page layout may differ), files by hash and mode. */
export function crmState(root: string): CrmState {
  const db = path.join(root, "prisma", "dev.db");
  const tree = (d: string) => (existsSync(d) ? treeDigest(d) : {});
  const whole = treeDigest(root);
  return {
    database: existsSync(db) ? dbContent(db) : null,
    uploads: tree(path.join(root, "uploads")),
    config: Object.fromEntries(CONFIG.filter((f) => whole[f]).map((f) => [f, whole[f]!])),
    logs: tree(path.join(root, "logs")),
  };
}

/** Names anywhere under `root` that a restore leaves while it works (staging and set-aside copies). */
export function restoreLeftovers(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (/^\.colab-restore-|\.colab-old-|\.colab-new-/.test(e.name)) out.push(r);
      else if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(root, "");
  return out;
}

/** Every file under a folder, relative, with its size (for a store: archives, manifests, temp files). */
export function listFiles(dir: string): { rel: string; size: number }[] {
  if (!existsSync(dir)) return [];
  const out: { rel: string; size: number }[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push({ rel: r + "/", size: 0 });
        walk(path.join(d, e.name), r);
      } else out.push({ rel: r, size: statSync(path.join(d, e.name)).size });
    }
  };
  walk(dir, "");
  return out;
}

/** Archives in an fs store with no manifest beside them. */
export function archivesWithoutManifest(storeDir: string): string[] {
  const files = new Set(listFiles(storeDir).map((f) => f.rel));
  return [...files].filter((f) => f.endsWith(".tar.gz") && !f.startsWith("temp/") && !files.has(f.replace(/\.tar\.gz$/, ".json")));
}

/** Extracts one entry of a .tar.gz with GNU tar (an independent reader) into `dest`; returns its path. */
export function tarExtract(archive: string, entry: string, dest: string): string {
  mkdirSync(dest, { recursive: true });
  execFileSync("tar", ["-xzf", archive, "-C", dest, entry]);
  return path.join(dest, entry);
}

export interface DamageTrial { name: string; verify: number | null; restore: number | null; unchanged: boolean; message: string }

/**
 * For each damage: reset the store and CRM, apply it, then `verify` and a full `restore` through the CLI. A trial held
 * when verify exits 1, restore exits 1 and the CRM is exactly as before with no restore leftovers.
 */
export async function cliDamageTrials(o: {
  damages: { name: string; apply: () => void }[]; reset: () => void; id: string; crmRoot: string; cwd: string; env: NodeJS.ProcessEnv;
}): Promise<{ results: DamageTrial[]; bad: DamageTrial[] }> {
  const results: DamageTrial[] = [];
  for (const d of o.damages) {
    o.reset();
    d.apply();
    const before = crmState(o.crmRoot);
    const verify = await cli(["verify", o.id, "--json"], { cwd: o.cwd, env: o.env });
    const restore = await cli(["restore", o.id, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE", "--json"], { cwd: o.cwd, env: o.env });
    const unchanged = JSON.stringify(crmState(o.crmRoot)) === JSON.stringify(before) && restoreLeftovers(o.crmRoot).length === 0;
    const message = restore.code === 0 ? "restored" : (json<{ error?: { message?: string } }>(restore).error?.message ?? "");
    results.push({ name: d.name, verify: verify.code, restore: restore.code, unchanged, message });
  }
  o.reset();
  return { results, bad: results.filter((r) => r.verify !== 1 || r.restore !== 1 || !r.unchanged) };
}

/**
 * Changes every component of a makeCrm() CRM the same way each time, so applying it to the restored state gives the
 * "before" state again. `addedCustomerId` must be above the ids the test's own rows use.
 */
export function mutateCrm(root: string, addedCustomerId: number): void {
  const db = new Database(path.join(root, "prisma", "dev.db"));
  db.exec(`INSERT OR REPLACE INTO "Customer" (id, name, note) VALUES (${addedCustomerId}, 'added after the backup', 'x');
           UPDATE "Deal" SET amount = -1 WHERE id <= 50;`);
  db.close();
  writeFileSync(path.join(root, "uploads/a.txt"), "changed after the backup\n");
  writeFileSync(path.join(root, "uploads/new-after-backup.txt"), "new\n");
  rmSync(path.join(root, "uploads/deep/nested/b.txt"), { force: true });
  writeFileSync(path.join(root, "package.json"), '{"name":"crm","version":"2.0.0"}\n');
  writeFileSync(path.join(root, "logs/combined-2026-11-25.log"), "rotated\n");
}

/** The CRM as its app would find it on start: opening the database read-write rolls back a hot journal first. */
export function settledState(root: string): CrmState {
  const file = path.join(root, "prisma", "dev.db");
  if (existsSync(file)) {
    const db = new Database(file);
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    db.close();
  }
  return crmState(root);
}

/** The pid in a filesystem store's lock (`<store>/locks/store.lock`), or undefined while it is absent or mid-write. */
export function storeLockPid(store: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(store, "locks", "store.lock"), "utf8")) as { pid?: number }).pid;
  } catch {
    return undefined;
  }
}
