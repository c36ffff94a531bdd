// Cleanup on a real store: retention applied by period in TZ, dry run, manual and pre-restore untouched, audit written;
// damaged manifests kept, orphans removed only after the grace period, interrupted runs at once; delete by id of each.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createBackup } from "../core/backup.ts";
import { archiveKey, manifestKey, pendingKey } from "../core/ids.ts";
import { listBackups, readAudit } from "../core/catalog.ts";
import { scanCatalog } from "../core/catalog-scan.ts";
import { deleteBackup, runCleanup } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import type { BackupType } from "../core/manifest.ts";
import { getStatus } from "../core/status.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";
import { plantDamage } from "./helpers/store-damage.ts";

async function backupAt(engine: Engine, type: BackupType, iso: string): Promise<string> {
  const at = new Date(iso);
  const out = await createBackup({ ...engine, now: () => at }, { type, components: ["config"] });
  if (out.skipped) throw new Error("unexpected skip");
  return out.manifest.id;
}

describe.each(["v2", "v1"] as const)("cleanup (format %s)", (format) => {
  it("keeps the newest backup of each of the last N days, weeks and months and removes the rest", async () => {
    const engine = makeTestEngine(makeCrm().root, undefined, { BACKUP_FORMAT: format, BACKUP_RETENTION_DAILY: "2", BACKUP_RETENTION_WEEKLY: "1", BACKUP_RETENTION_MONTHLY: "1", TZ: "Europe/Berlin" });
    const d1 = await backupAt(engine, "daily", "2026-11-23T01:00:00Z");
    const d2 = await backupAt(engine, "daily", "2026-11-24T01:00:00Z");
    const d3a = await backupAt(engine, "daily", "2026-11-24T23:30:00Z"); // 00:30 on the 25th in Berlin
    const d3b = await backupAt(engine, "daily", "2026-11-25T10:00:00Z");
    const w1 = await backupAt(engine, "weekly", "2026-11-15T00:00:00Z");
    const w2 = await backupAt(engine, "weekly", "2026-11-22T00:00:00Z");
    const m1 = await backupAt(engine, "monthly", "2026-10-01T00:00:00Z");
    const m2 = await backupAt(engine, "monthly", "2026-10-31T23:30:00Z"); // already November in Berlin
    const manual = await backupAt(engine, "manual", "2020-01-01T00:00:00Z");
    const now = new Date("2026-11-26T12:00:00Z");
    const e = { ...engine, now: () => now };

    const dry = await runCleanup(e, { dryRun: true });
    expect(dry.remove.map((r) => r.id).sort()).toEqual([d1, d3a, w1, m1].sort());
    // v2 stores each piece once: every backup holds the same config, so the kept ones still reference all its packs.
    if (format === "v1") expect(dry.freedBytes).toBeGreaterThan(0);
    else expect(dry.freedBytes).toBe(0);
    expect((await listBackups(engine.storage)).length).toBe(9);
    expect(dry.remove.find((r) => r.id === d3a)?.reason).toMatch(/2026-11-25/);

    const done = await runCleanup(e, { actor: "test" });
    expect([...done.removed].sort()).toEqual([d1, d3a, w1, m1].sort());
    const left = (await listBackups(engine.storage)).map((b) => b.id).sort();
    expect(left).toEqual([d2, d3b, w2, m2, manual].sort());
    for (const id of done.removed) {
      expect(existsSync(path.join(engine.config.backupDir, archiveKey(id)))).toBe(false);
      expect(existsSync(path.join(engine.config.backupDir, manifestKey(id)))).toBe(false);
    }
    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "cleanup", actor: "test", detail: { removed: done.removed } });

    const status = await getStatus(e, engine.config.backupDir);
    expect(status.backups.byType).toMatchObject({ daily: 2, weekly: 1, monthly: 1, manual: 1 });
    expect(status.lastBackup?.id).toBe(d3b);
    expect(status.storage.usedBytes).toBeGreaterThan(0);
    expect(status.storage.freeBytes).toBeGreaterThan(0);
    expect(status.schedules.daily?.nextRun).toBe("2026-11-27T01:00:00.000Z");
  });
});

describe("cleanup of a damaged store", () => {
  it("keeps what it cannot read, removes interrupted runs at once and orphans only after the grace period, with audit records", async () => {
    const engine = makeTestEngine(makeCrm().root, undefined, { BACKUP_RETENTION_DAILY: "1" });
    const ids = await plantDamage(engine);
    const older = await backupAt(engine, "daily", "2026-11-19T02:00:00Z");
    const has = async (key: string) => (await engine.storage.stat(key)) !== null;
    const soon = { ...engine, now: () => new Date() };

    const dry = await runCleanup(soon, { dryRun: true });
    expect(dry.damaged.map((d) => d.id).sort()).toEqual([ids.notJson, ids.badSchema, ids.noArchive, ids.copied].sort());
    expect(dry.orphansKept).toEqual([expect.objectContaining({ key: archiveKey(ids.orphan), removableAfter: expect.any(String) })]);
    expect(await has(archiveKey(ids.incomplete))).toBe(true);

    const first = await runCleanup(soon, { actor: "test" });
    // Retention counts only the readable daily backups: the damaged, newer ones do not push the good one out.
    expect(first.removed).toEqual([older]);
    expect(first.keep.map((k) => k.id)).toEqual([ids.good]);
    expect(first.leftoversRemoved.sort()).toEqual([ids.incomplete, ids.markerOnly].sort());
    expect(await has(archiveKey(ids.incomplete))).toBe(false);
    expect(await engine.storage.list("pending/")).toEqual([]); // the stale marker of the good backup too
    for (const id of [ids.notJson, ids.badSchema, ids.noArchive, ids.copied]) expect(await has(manifestKey(id))).toBe(true);
    expect(await has(archiveKey(ids.notJson))).toBe(true);
    expect(first.damaged).toHaveLength(4);
    expect(first.orphansRemoved).toEqual([]);
    expect(first.orphansKept.map((o) => o.key)).toEqual([archiveKey(ids.orphan)]);
    expect(await has(archiveKey(ids.orphan))).toBe(true);
    const audit = await readAudit(engine.storage);
    expect(audit.find((a) => a.backupId === ids.incomplete)).toMatchObject({
      action: "cleanup", actor: "test", detail: { leftover: "incomplete", message: `removed the incomplete archive of interrupted backup ${ids.incomplete}` },
    });
    expect(audit.find((a) => a.action === "cleanup" && !a.backupId)).toMatchObject({ detail: { removed: [older], damagedKept: expect.arrayContaining([manifestKey(ids.notJson)]) } });

    // Six days on, the orphan is still inside the grace period; eight days on, it goes.
    const sixDays = await runCleanup({ ...engine, now: () => new Date(Date.now() + 6 * 86_400_000) }, { actor: "test" });
    expect(sixDays.orphansRemoved).toEqual([]);
    expect(await has(archiveKey(ids.orphan))).toBe(true);
    const eightDays = await runCleanup({ ...engine, now: () => new Date(Date.now() + 8 * 86_400_000) }, { actor: "test" });
    expect(eightDays.orphansRemoved.map((o) => o.key)).toEqual([archiveKey(ids.orphan)]);
    expect(eightDays.freedBytes).toBe(eightDays.orphansRemoved[0]!.sizeBytes);
    expect(await has(archiveKey(ids.orphan))).toBe(false);
    expect((await readAudit(engine.storage)).find((a) => a.backupId === ids.orphan)).toMatchObject({
      action: "cleanup", detail: { leftover: "orphan", key: archiveKey(ids.orphan), message: expect.stringContaining("no manifest for more than 7 days") },
    });
    // Damaged manifests outlive any grace period: cleanup never removes what it cannot read.
    expect(await has(manifestKey(ids.notJson))).toBe(true);
    expect(await has(archiveKey(ids.notJson))).toBe(true);
    expect((await listBackups(engine.storage)).map((b) => b.id)).toEqual([ids.good]);
  });

  it("deletes a damaged manifest with its archive, an orphan and an interrupted run by id, each audited", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const ids = await plantDamage(engine);
    const damaged = await deleteBackup(engine, ids.notJson, "test");
    expect(damaged).toEqual({ id: ids.notJson, kind: "damaged", freedBytes: 44 });
    expect(await engine.storage.stat(manifestKey(ids.notJson))).toBeNull();
    expect(await engine.storage.stat(archiveKey(ids.notJson))).toBeNull();
    expect(await deleteBackup(engine, ids.orphan, "test")).toEqual({ id: ids.orphan, kind: "orphan", freedBytes: 41 });
    expect(await engine.storage.stat(archiveKey(ids.orphan))).toBeNull();
    expect(await deleteBackup(engine, ids.incomplete, "test")).toEqual({ id: ids.incomplete, kind: "incomplete", freedBytes: 15 });
    expect(await engine.storage.stat(pendingKey(ids.incomplete))).toBeNull();
    await expect(deleteBackup(engine, ids.orphan, "test")).rejects.toThrow(/no backup with id/);

    const audit = await readAudit(engine.storage);
    expect(audit.find((a) => a.backupId === ids.notJson)).toMatchObject({
      action: "delete", actor: "test", result: "succeeded", detail: { kind: "damaged", archive: archiveKey(ids.notJson), damaged: expect.stringContaining("not valid JSON") },
    });
    expect(audit.find((a) => a.backupId === ids.orphan)).toMatchObject({ action: "delete", detail: { kind: "orphan", sizeBytes: 41 } });
    const scan = await scanCatalog(engine.storage);
    expect(scan.orphans).toEqual([]);
    expect(scan.damaged.map((d) => d.id)).not.toContain(ids.notJson);
    expect(scan.backups.map((b) => b.id)).toEqual([ids.good]);
  });

  it("reports damage, orphans and work bytes in status", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const ids = await plantDamage(engine);
    // What a killed run leaves in the work folder and the fs store's temp files.
    mkdirSync(path.join(engine.workRoot, "work-daily-20261127T020000Z-dddddd"), { recursive: true });
    writeFileSync(path.join(engine.workRoot, "work-daily-20261127T020000Z-dddddd", "dev.db"), Buffer.alloc(3000));
    writeFileSync(path.join(engine.workRoot, "put-1-2-abc.tmp"), Buffer.alloc(500));
    const status = await getStatus(engine, engine.config.backupDir);
    expect(status.backups.total).toBe(1);
    expect(status.catalog.damaged.map((d) => d.key)).toContain(manifestKey(ids.notJson));
    expect(status.catalog.orphans.map((o) => o.key)).toEqual([archiveKey(ids.orphan)]);
    expect(status.catalog.incomplete.map((i) => i.id).sort()).toEqual([ids.incomplete, ids.markerOnly].sort());
    expect(status.storage.workBytes).toBe(3500);
  });
});
