// Cleanup on a real store: retention applied by period in TZ, dry run, manual and pre-restore untouched, audit written.
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createBackup } from "../core/backup.ts";
import { archiveKey } from "../core/ids.ts";
import { listBackups, readAudit } from "../core/catalog.ts";
import { runCleanup } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import type { BackupType } from "../core/manifest.ts";
import { getStatus } from "../core/status.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";

async function backupAt(engine: Engine, type: BackupType, iso: string): Promise<string> {
  const at = new Date(iso);
  const out = await createBackup({ ...engine, now: () => at }, { type, components: ["config"] });
  if (out.skipped) throw new Error("unexpected skip");
  return out.manifest.id;
}

describe("cleanup", () => {
  it("keeps the newest backup of each of the last N days, weeks and months and removes the rest", async () => {
    const engine = makeTestEngine(makeCrm().root, undefined, { BACKUP_RETENTION_DAILY: "2", BACKUP_RETENTION_WEEKLY: "1", BACKUP_RETENTION_MONTHLY: "1", TZ: "Europe/Berlin" });
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
    expect(dry.freedBytes).toBeGreaterThan(0);
    expect((await listBackups(engine.storage)).length).toBe(9);
    expect(dry.remove.find((r) => r.id === d3a)?.reason).toMatch(/2026-11-25/);

    const done = await runCleanup(e, { actor: "test" });
    expect([...done.removed].sort()).toEqual([d1, d3a, w1, m1].sort());
    const left = (await listBackups(engine.storage)).map((b) => b.id).sort();
    expect(left).toEqual([d2, d3b, w2, m2, manual].sort());
    for (const id of done.removed) expect(existsSync(path.join(engine.config.backupDir, archiveKey(id)))).toBe(false);
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
