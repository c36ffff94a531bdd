// A restore killed at each stage of its journal is ended by the next command: rolled back as a whole, or finished.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readAudit } from "../core/catalog.ts";
import { LOCK_KEY } from "../core/ids.ts";
import { readJob, saveJob } from "../core/jobs/records.ts";
import { buildRuntime } from "../runtime/local.ts";
import { startServer } from "../cli/serve.ts";
import { acquireLock } from "../core/lock.ts";
import { journalPath, readJournal, writeJournal, type Journal } from "../core/restore-journal.ts";
import { recoverInterruptedRestore } from "../core/restore-recovery.ts";
import { getStatus } from "../core/status.ts";
import { dbContent, makeCrm, makeTestEngine, tempDir, treeDigest } from "./helpers/crm.ts";

const BIN = path.join(import.meta.dirname, "..", "bin", "colab-backup.js");

function crmState(root: string) {
  return { uploads: treeDigest(path.join(root, "uploads")), logs: treeDigest(path.join(root, "logs")), pkg: readFileSync(path.join(root, "package.json"), "utf8"), db: dbContent(path.join(root, "prisma/dev.db")) };
}

async function setup() {
  const crm = makeCrm();
  const store = tempDir("store-");
  const engine = makeTestEngine(crm.root, store);
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped) throw new Error("unexpected skip");
  writeFileSync(path.join(crm.root, "uploads/a.txt"), "changed after the backup");
  writeFileSync(path.join(crm.root, "package.json"), "{}\n");
  writeFileSync(path.join(crm.root, "logs/combined-2026-11-25.log"), "rotated\n");
  const db = new Database(crm.db);
  db.exec(`DELETE FROM "Deal"`);
  db.close();
  return { crm, store, engine, id: out.manifest.id, before: crmState(crm.root) };
}

/** Starts a CLI restore that pauses inside its swap, and kills it with SIGKILL `afterMs` after `when` holds for its journal. */
async function killRestoreWhen(crmRoot: string, store: string, id: string, when: (j: Journal) => boolean, afterMs = 0): Promise<Journal> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, CRM_ROOT: crmRoot, BACKUP_DIR: store, COLAB_TEST_SWAP_DELAY_MS: "400" };
  const child = spawn(process.execPath, [BIN, "restore", id, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE"], { env, stdio: "ignore" });
  const file = path.join(crmRoot, ".colab-restore-journal.json");
  const deadline = Date.now() + 30_000;
  try {
    while (Date.now() < deadline) {
      const j = existsSync(file) ? await readJournal(file).catch(() => null) : null;
      if (j && when(j)) {
        if (afterMs) await new Promise((r) => setTimeout(r, afterMs));
        child.kill("SIGKILL");
        return j;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("the restore never reached the awaited journal state");
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
  }
}

function runCli(args: string[], crmRoot: string, store: string): Promise<{ code: number; stderr: string }> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, CRM_ROOT: crmRoot, BACKUP_DIR: store };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code: code ?? 1, stderr }));
  });
}

describe("restore crash recovery", () => {
  // One journal write begins all four components; each component and each path step then pauses 400 ms
  // (COLAB_TEST_SWAP_DELAY_MS), so these kills land before any change, between steps and inside the database copy.
  for (const afterMs of [0, 300, 700, 1100]) {
    it(`rolls back every component when killed ${afterMs} ms into the swap (all 4 components begun)`, async () => {
      const { crm, store, engine, id, before } = await setup();
      const j = await killRestoreWhen(crm.root, store, id, (j) => j.phase === "swapping" && j.begun.length === 4, afterMs);
      expect(j.preRestoreBackupId).toMatch(/^pre-restore-/);
      const status = await getStatus(engine);
      expect(status.running).toBeNull(); // a dead pid is never "running"
      expect(status.interrupted).toMatchObject({ operation: "restore" });

      const next = await runCli(["status"], crm.root, store);
      expect(next.code).toBe(0);
      expect(next.stderr).toContain(`rolled back the interrupted restore of database, uploads, config, logs from ${id}`);
      expect(crmState(crm.root)).toEqual(before);
      expect(readdirSync(crm.root).filter((n) => n.includes("colab"))).toEqual([]);
      expect(readdirSync(path.join(crm.root, "uploads")).filter((n) => n.includes("colab"))).toEqual([]);
      const [audit] = await readAudit(engine.storage);
      expect(audit).toMatchObject({ action: "restore", actor: "recovery", backupId: id, detail: { interrupted: true, preRestoreBackupId: j.preRestoreBackupId } });
      expect((await getStatus(engine)).interrupted).toBeNull();
    });
  }

  it("cleans up a restore killed before it changed anything", async () => {
    const { crm, store, engine, id, before } = await setup();
    await killRestoreWhen(crm.root, store, id, (j) => j.phase === "staging");
    const next = await runCli(["list"], crm.root, store);
    expect(next.stderr).toMatch(/cleaned up the interrupted restore|rolled back the interrupted restore/);
    expect(crmState(crm.root)).toEqual(before);
    expect(readdirSync(crm.root).filter((n) => n.includes("colab"))).toEqual([]);
    expect(existsSync(journalPath(engine.config))).toBe(false);
  });

  it("finishes a restore that died after every swap was done (only cleanup was left)", async () => {
    const { crm, engine } = await setup();
    // Every swap done: the CRM holds the restored state; the replaced uploads wait aside, the staging folder remains.
    const staging = path.join(crm.root, ".colab-restore-feed");
    const aside = path.join(crm.root, "uploads.colab-old-feed");
    mkdirSync(staging);
    cpSync(path.join(crm.root, "uploads"), aside, { recursive: true });
    const journal: Journal = {
      version: 1, id: "feed", backupId: "manual-20261129T000000Z-abcdef", components: ["uploads"], actor: "test", startedAt: new Date().toISOString(),
      pid: 999_999, host: "elsewhere", staging, phase: "committing", begun: ["uploads"],
      steps: [{ kind: "path", component: "uploads", target: path.join(crm.root, "uploads"), staged: path.join(staging, "files/uploads"), aside, near: `${aside}-near`, hadOriginal: true }],
    };
    await writeJournal(journalPath(engine.config), journal);
    const uploads = treeDigest(path.join(crm.root, "uploads"));
    const out = await recoverInterruptedRestore(engine);
    expect(out).toMatchObject({ outcome: "completed" });
    expect(treeDigest(path.join(crm.root, "uploads"))).toEqual(uploads);
    expect(existsSync(aside) || existsSync(staging) || existsSync(journalPath(engine.config))).toBe(false);
    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "restore", actor: "recovery", result: "succeeded" });
  });

  it("serve's start rolls back a restore job that died with the last server, and ends its job as failed", async () => {
    const { crm, store, engine } = await setup();
    const uploads = path.join(crm.root, "uploads");
    const before = treeDigest(uploads);
    // The dead server's restore had moved the live uploads aside and a restored copy in, then died.
    const staging = path.join(crm.root, ".colab-restore-dead");
    const aside = `${uploads}.colab-old-dead`;
    mkdirSync(path.join(staging, "files"), { recursive: true });
    renameSync(uploads, aside);
    mkdirSync(uploads);
    writeFileSync(path.join(uploads, "from-the-backup.txt"), "restored");
    const job = { id: "job-20261129T000000Z-0badf00d", kind: "restore" as const, state: "running" as const, actor: "admin@example.com", createdAt: new Date().toISOString(), backupId: "manual-20261129T000000Z-abcdef", request: { components: ["uploads"] } };
    await saveJob(engine.storage, job);
    await writeJournal(journalPath(engine.config), {
      version: 1, id: "dead", backupId: job.backupId, components: ["uploads"], actor: job.actor, jobId: job.id, startedAt: job.createdAt,
      pid: 999_999, host: "gone", staging, phase: "swapping", begun: ["uploads"],
      steps: [{ kind: "path", component: "uploads", target: uploads, staged: path.join(staging, "files/uploads"), aside, near: `${uploads}.colab-new-dead`, hadOriginal: true }],
    });
    const runtime = await buildRuntime({ cwd: tempDir("serve-recover-"), env: { CRM_ROOT: crm.root, BACKUP_DIR: store, JWT_SECRET: "y".repeat(40) } });
    const server = await startServer(runtime, { port: 0, schedule: false });
    try {
      expect(server.recovered).toMatchObject({ outcome: "rolled-back", backupId: job.backupId });
      expect(treeDigest(uploads)).toEqual(before);
      expect(existsSync(aside) || existsSync(staging)).toBe(false);
      expect(await readJob(engine.storage, job.id)).toMatchObject({ state: "failed", error: { code: "restore_interrupted", rolledBack: true } });
    } finally {
      await server.close();
    }
  });

  it("leaves the journal of a restore that is still running alone", async () => {
    const { crm, engine } = await setup();
    const held = await acquireLock(engine.storage, LOCK_KEY, { id: "restore-x", operation: "restore" });
    try {
      const journal: Journal = {
        version: 1, id: "live", backupId: "manual-20261129T000000Z-abcdef", components: ["uploads"], actor: "test", startedAt: new Date().toISOString(),
        pid: process.pid, host: "here", staging: path.join(crm.root, ".colab-restore-live"), phase: "swapping", begun: [], steps: [],
      };
      await writeJournal(journalPath(engine.config), journal);
      expect(await recoverInterruptedRestore(engine)).toBeNull();
      expect(await readJournal(journalPath(engine.config))).toMatchObject({ id: "live" });
      expect((await getStatus(engine)).running).toMatchObject({ operation: "restore" });
    } finally {
      await held.release();
    }
  });
});
