// Status: counts by type, the last backup, storage used and free, and the next run of each schedule.
import { statfs } from "node:fs/promises";
import { scanCatalog, type CatalogScan, type DamagedManifest, type IncompleteBackup, type OrphanArchive } from "./catalog-scan.ts";
import { nextRun } from "./cron.ts";
import type { Engine } from "./engine.ts";
import { LOCK_KEY } from "./ids.ts";
import { isStale, readLock } from "./lock.ts";
import { journalPath, readJournal } from "./restore-journal.ts";
import { BACKUP_TYPES, backupSizeBytes } from "./manifest.ts";
import { workBytes } from "./work-dir.ts";

export interface StatusReport {
  backups: { total: number; byType: Record<string, number>; totalBytes: number };
  lastBackup: { id: string; type: string; createdAt: string; sizeBytes: number } | null;
  /** workBytes: local work files (snapshots, staging, the fs store's temp files), which crashed runs can leave behind. */
  storage: { location: string; usedBytes: number; freeBytes: number | null; workBytes: number };
  /** What the store holds besides readable backups; damaged manifests and orphan archives need an admin. */
  catalog: { damaged: DamagedManifest[]; orphans: OrphanArchive[]; incomplete: IncompleteBackup[] };
  schedules: Record<string, { cron: string; nextRun: string | null }>;
  timeZone: string;
  running: { operation: string; startedAt: string; host: string; pid: number } | null;
  /** An operation whose process died holding the lock, or a restore journal nobody is finishing: the next command ends it. */
  interrupted: { operation: string; startedAt: string; host: string; pid: number; detail: string } | null;
  retention: { daily: number; weekly: number; monthly: number };
}

/** `scanned` lets a caller that already scanned the store pass its scan instead of reading it again. */
export async function getStatus(engine: Engine, localDir?: string, scanned?: CatalogScan): Promise<StatusReport> {
  const scan = scanned ?? (await scanCatalog(engine.storage));
  const { backups } = scan;
  const byType = Object.fromEntries(BACKUP_TYPES.map((t) => [t, backups.filter((b) => b.type === t).length]));
  const last = backups[0];
  const now = engine.now();
  const schedules = Object.fromEntries(
    Object.entries(engine.config.schedules).map(([name, cron]) => [name, { cron, nextRun: nextRun(cron, engine.config.timeZone, now)?.toISOString() ?? null }]),
  );
  let freeBytes: number | null = null;
  if (localDir) {
    const fs = await statfs(localDir).catch(() => null);
    if (fs) freeBytes = fs.bavail * fs.bsize;
  }
  const lock = await readLock(engine.storage, LOCK_KEY);
  const live = lock !== null && !isStale(lock, now);
  // The journal is on the CRM's disk: readable here locally and in the worker, not from an API without the mount.
  const journal = await readJournal(journalPath(engine.config)).catch(() => null);
  let interrupted: StatusReport["interrupted"] = null;
  if (lock && !live) {
    interrupted = { operation: lock.operation, startedAt: lock.startedAt, host: lock.host, pid: lock.pid, detail: `its process is gone; the next backup, restore or colab-backup command ends it${lock.operation === "restore" ? " (rolls the restore back)" : ""}` };
  } else if (journal && !live) {
    interrupted = { operation: "restore", startedAt: journal.startedAt, host: journal.host, pid: journal.pid, detail: `restore of ${journal.backupId} was interrupted; the next command rolls it back` };
  }
  // The fs store keeps its temp files apart from the engine's work folder when so configured; count both.
  const storeTemp = (engine.storage as { tempDir?: unknown }).tempDir;
  return {
    backups: { total: backups.length, byType, totalBytes: backups.reduce((n, b) => n + (b.formatVersion === 1 ? b.archive.sizeBytes : b.stored.bytesAdded), 0) },
    lastBackup: last ? { id: last.id, type: last.type, createdAt: last.createdAt, sizeBytes: backupSizeBytes(last) } : null,
    storage: {
      location: engine.storage.description,
      usedBytes: (await engine.storage.usage?.()) ?? 0,
      freeBytes,
      workBytes: await workBytes([engine.workRoot, ...(typeof storeTemp === "string" ? [storeTemp] : [])]),
    },
    catalog: { damaged: scan.damaged, orphans: scan.orphans, incomplete: scan.incomplete },
    schedules,
    timeZone: engine.config.timeZone,
    running: lock && live ? { operation: lock.operation, startedAt: lock.startedAt, host: lock.host, pid: lock.pid } : null,
    interrupted,
    retention: engine.config.retention,
  };
}
