// Restores on a real CRM folder: byte-identical round trip, pre-restore backup, live database held open, tampering, rollback.
import { readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { listBackups, readAudit, readManifest } from "../core/catalog.ts";
import { RestoreError, ValidationError } from "../core/errors.ts";
import { runRestore } from "../core/restore.ts";
import { runCleanup } from "../core/cleanup.ts";
import type { StoredManifest } from "../core/manifest.ts";
import { dbContent, makeCrm, makeTestEngine as makeEngineOf, treeDigest } from "./helpers/crm.ts";
import { flipStoredByte } from "./helpers/damage-backup.ts";
import { holdDatabase, killHolders } from "./helpers/db-holder.ts";

async function backupOf(engine: ReturnType<typeof makeEngineOf>): Promise<StoredManifest> {
  const out = await runBackup(engine, { type: "daily" });
  if (out.skipped) throw new Error("unexpected skip");
  return out.manifest;
}

afterEach(killHolders);

// Every restore guarantee holds for both store formats: v2 (the default) and v1 archives kept from before.
describe.each(["v2", "v1"] as const)("restore (format %s)", (format) => {
  const makeTestEngine = (root: string, dir?: string, env: NodeJS.ProcessEnv = {}) => makeEngineOf(root, dir, { BACKUP_FORMAT: format, ...env });

  it("round-trips every component byte for byte and keeps a pre-restore backup of what it replaced", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root);
    const before = { uploads: treeDigest(path.join(crm.root, "uploads")), logs: treeDigest(path.join(crm.root, "logs")), db: dbContent(crm.db) };
    const pkg = readFileSync(path.join(crm.root, "package.json"));
    const nested = path.join(crm.root, "uploads/deep/nested/b.txt");
    utimesSync(nested, new Date("2025-01-02T03:04:05Z"), new Date("2025-01-02T03:04:05Z"));
    const m = await backupOf(engine);

    // Damage everything.
    rmSync(path.join(crm.root, "uploads/deep"), { recursive: true });
    writeFileSync(path.join(crm.root, "uploads/new-after-backup.txt"), "new");
    writeFileSync(path.join(crm.root, "package.json"), "{}");
    writeFileSync(path.join(crm.root, "logs/combined-2026-11-25.log"), "truncated");
    const db = new Database(crm.db);
    db.exec(`DELETE FROM "Deal"; UPDATE "Customer" SET name = 'overwritten'`);
    db.close();

    const out = await runRestore(engine, { backupId: m.id, components: ["database", "uploads", "config", "logs"], confirm: "CONFIRM_RESTORE", actor: "test-admin" });
    expect(treeDigest(path.join(crm.root, "uploads"))).toEqual(before.uploads);
    expect(statSync(nested).mtime.toISOString()).toBe("2025-01-02T03:04:05.000Z");
    expect(treeDigest(path.join(crm.root, "logs"))).toEqual(before.logs);
    expect(readFileSync(path.join(crm.root, "package.json")).equals(pkg)).toBe(true);
    expect(readFileSync(path.join(crm.root, ".env"), "utf8")).toBe("JWT_SECRET=top-secret\n");
    expect(dbContent(crm.db)).toEqual(before.db);
    expect(readdirSync(crm.root).filter((n) => n.startsWith(".colab-restore-") || n.includes(".colab-old-"))).toEqual([]);

    const pre = await readManifest(engine.storage, (await listBackups(engine.storage, "pre-restore"))[0]!.id);
    expect(pre.id).toBe(out.preRestoreBackupId);
    expect(pre.components.uploads!.files.map((f) => f.path)).toContain("uploads/new-after-backup.txt");
    expect(pre.components.database!.database!.tables.Deal).toBe(0);
    // Pre-restore backups sit outside the retention counts.
    const cleaned = await runCleanup(engine, { dryRun: true });
    expect(cleaned.remove.map((r) => r.id)).not.toContain(pre.id);

    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "restore", actor: "test-admin", backupId: m.id, result: "succeeded", components: ["database", "uploads", "config", "logs"] });
  });

  it("refuses without the literal confirmation token or with unknown components, touching nothing", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root);
    const m = await backupOf(engine);
    await expect(runRestore(engine, { backupId: m.id, components: ["database"], confirm: "confirm_restore" })).rejects.toThrow(/CONFIRM_RESTORE/);
    await expect(runRestore(engine, { backupId: m.id, components: ["secrets"], confirm: "CONFIRM_RESTORE" })).rejects.toBeInstanceOf(ValidationError);
    await expect(runRestore(engine, { backupId: m.id, components: [], confirm: "CONFIRM_RESTORE" })).rejects.toThrow(/at least one component/);
    expect((await listBackups(engine.storage, "pre-restore")).length).toBe(0);
  });

  it("restores into a database another process holds open: it reads the restored rows and its next write is kept", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root);
    const m = await backupOf(engine);
    const inode = statSync(crm.db).ino;
    const { ask } = holdDatabase(crm.db);
    await ask({ op: "exec", sql: `DELETE FROM "Deal"` });
    expect(await ask({ op: "count", table: "Deal" })).toEqual({ count: 0 });

    await runRestore(engine, { backupId: m.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
    expect(await ask({ op: "count", table: "Deal" })).toEqual({ count: 500 });
    await ask({ op: "exec", sql: `INSERT INTO "Deal" (customerId, amount) VALUES (1, 42)` });
    expect(statSync(crm.db).ino).toBe(inode);
    const fresh = new Database(crm.db, { readonly: true });
    expect(fresh.prepare(`SELECT count(*) AS n FROM "Deal"`).get()).toEqual({ n: 501 });
    fresh.close();
  });

  it("refuses a tampered archive before touching live data", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root);
    const m = await backupOf(engine);
    flipStoredByte(engine, m, "uploads");
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "changed after backup");
    await expect(runRestore(engine, { backupId: m.id, components: ["uploads"], confirm: "CONFIRM_RESTORE" })).rejects.toThrow();
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("changed after backup");
    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "restore", result: "failed", detail: { durationMs: expect.any(Number) } }); // the run history shows how long it ran
  });

  it("rolls back uploads already swapped when the database swap fails", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_DB_BUSY_TIMEOUT_MS: "300" });
    const m = await backupOf(engine);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "live version");
    const liveUploads = treeDigest(path.join(crm.root, "uploads"));
    // A writer holding an exclusive transaction longer than the busy timeout makes the database step fail for real.
    const { ask } = holdDatabase(crm.db);
    await ask({ op: "exec", sql: `DELETE FROM "Deal"` });
    await ask({ op: "lock" });
    const err = await runRestore(engine, { backupId: m.id, components: ["uploads", "database"], confirm: "CONFIRM_RESTORE" }).catch((e) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect(err.rolledBack).toBe(true);
    expect(err.message).toMatch(/rolled back uploads/);
    expect(treeDigest(path.join(crm.root, "uploads"))).toEqual(liveUploads);
    await ask({ op: "unlock" });
    expect(await ask({ op: "count", table: "Deal" })).toEqual({ count: 0 });
    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "restore", result: "rolled-back" });
  });
});
