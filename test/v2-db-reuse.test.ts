// A v2 backup reuses the previous database record, without snapshotting, only when the live database provably did not change.
import { utimesSync } from "node:fs";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import type { Engine } from "../core/engine.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { dbReuseHooks } from "../core/v2/db-reuse.ts";
import { dbContent, makeCrm, makeTestEngine, type CrmFixture } from "./helpers/crm.ts";

const V2 = { BACKUP_FORMAT: "v2" };

async function backup(engine: Engine, type: "manual" | "daily" | "weekly" = "daily"): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

/** Files the backup holds besides the database. */
const otherFiles = (m: StoredManifestV2) => ["uploads", "config", "logs"].reduce((n, c) => n + m.components[c]!.fileCount, 0);

/** Moves the database's mtime an hour back, as for a CRM nobody wrote to lately (a fresh write is never trusted). */
function settle(crm: CrmFixture, hoursAgo = 1): void {
  const t = new Date(Date.now() - hoursAgo * 3_600_000);
  utimesSync(crm.db, t, t);
}

/** The database rows the backup restores into the live CRM. */
async function restoredRows(engine: Engine, crm: CrmFixture, m: StoredManifestV2) {
  await runRestore(engine, { backupId: m.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
  return dbContent(crm.db);
}

function addCustomer(crm: CrmFixture, name: string, keepOpen = false): Database.Database | null {
  const db = new Database(crm.db);
  db.prepare(`INSERT INTO "Customer" (name, note) VALUES (?, 'new')`).run(name);
  if (keepOpen) return db;
  db.close();
  return null;
}

afterEach(() => {
  dbReuseHooks.afterIdentity = undefined;
});

describe("v2 backup of an unchanged database (BACKUP_FORMAT=v2)", () => {
  it("reuses the previous record without snapshotting, and that backup restores the same rows", async () => {
    const crm = makeCrm();
    settle(crm);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine, "manual");
    expect(first.components.database!.liveSource?.db.ino).toBeTruthy();
    const rows = dbContent(crm.db);
    const second = await backup(engine);
    // Nothing opened at all: the database counts as reused like every unchanged file.
    expect(second.stored).toMatchObject({ filesRead: 0, filesReused: otherFiles(second) + 1, packsAdded: 0, previousId: first.id });
    expect(second.components.database).toEqual(first.components.database);
    // A third in a row still reuses: the identity recorded is carried forward with the record.
    const third = await backup(engine);
    expect(third.stored.filesRead).toBe(0);
    addCustomer(crm, "gone after restore");
    expect(await restoredRows(engine, crm, third)).toEqual(rows);
  });

  it("snapshots again after a commit that sits in the -wal (the database file itself untouched)", async () => {
    const crm = makeCrm(undefined, "wal");
    settle(crm);
    const engine = makeTestEngine(crm.root, undefined, V2);
    await backup(engine, "manual");
    // The app keeps its connection, so the commit is only in the -wal until a checkpoint.
    const app = addCustomer(crm, "in the wal", true)!;
    try {
      const next = await backup(engine);
      expect(next.stored.filesRead).toBe(1);
      expect(next.components.database!.database!.tables.Customer).toBe(501);
    } finally {
      app.close();
    }
  });

  it("snapshots again after a commit in rollback-journal mode, and stores the change", async () => {
    const crm = makeCrm(undefined, "delete");
    settle(crm);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine, "manual");
    expect(first.components.database!.liveSource?.wal).toBeNull();
    addCustomer(crm, "journaled");
    const next = await backup(engine);
    expect(next.stored.filesRead).toBe(1);
    expect(next.stored.bytesAdded).toBeGreaterThan(0);
    const rows = dbContent(crm.db);
    addCustomer(crm, "gone after restore");
    expect(await restoredRows(engine, crm, next)).toEqual(rows);
    expect((rows.Customer as { name: string }[]).some((r) => r.name === "journaled")).toBe(true);
  });

  it("snapshots in a weekly backup even when nothing changed", async () => {
    const crm = makeCrm();
    settle(crm);
    const engine = makeTestEngine(crm.root, undefined, V2);
    await backup(engine, "manual");
    const weekly = await backup(engine, "weekly");
    expect(weekly.stored).toMatchObject({ filesRead: otherFiles(weekly) + 1, filesReused: 0 });
  });

  it("catches in the next backup a write made after the identity was taken, even one that keeps the mtime old", async () => {
    const crm = makeCrm(undefined, "delete");
    settle(crm, 2);
    const engine = makeTestEngine(crm.root, undefined, V2);
    // The write lands between the identity and the snapshot, then the mtime is set back to an old value, so only the
    // order (identity first) makes the next backup see a change: recorded after the snapshot, it would look unchanged.
    dbReuseHooks.afterIdentity = () => {
      addCustomer(crm, "during the snapshot");
      settle(crm, 1);
      dbReuseHooks.afterIdentity = undefined;
    };
    await backup(engine, "manual");
    const next = await backup(engine);
    expect(next.stored.filesRead).toBe(1);
    const after = await backup(engine);
    expect(after.stored.filesRead).toBe(0);
    expect(after.components.database!.database!.tables.Customer).toBe(501);
  });

  it("reuses in the pre-restore backup too when the database is unchanged", async () => {
    const crm = makeCrm();
    settle(crm);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine, "manual");
    const out = await runRestore(engine, { backupId: first.id, components: ["uploads", "database"], confirm: "CONFIRM_RESTORE" });
    const pre = (await readManifest(engine.storage, out.preRestoreBackupId!)) as StoredManifestV2;
    expect(pre.type).toBe("pre-restore");
    expect(pre.components.database).toEqual(first.components.database);
    expect(pre.stored.filesRead).toBe(0);
  });

  it("does not trust a database written moments ago: the next backup snapshots again", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine, "manual");
    expect(first.components.database!.liveSource).toBeUndefined();
    const next = await backup(engine);
    expect(next.stored.filesRead).toBe(1);
  });
});
