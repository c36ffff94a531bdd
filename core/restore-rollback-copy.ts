// The live database's rollback copy taken early (or the pre-restore backup's snapshot), kept only if the live database provably did not change since.
import { rename, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { DATABASE_ENTRY, type LiveDatabaseSource, type StoredManifest } from "./manifest.ts";
import type { DatabaseBase } from "./v2/restore-db-base.ts";
import { snapshotDatabase } from "./sources/sqlite.ts";
import { syncFileAndDir } from "./storage/fs-storage.ts";
import { sameLiveSource, takeLiveSource } from "./v2/db-reuse.ts";

export interface EarlyRollbackCopy {
  /**
   * True when `dest` now holds a durable, integrity-checked copy of the live database as it is at this call: the live
   * db and -wal identity (size, mtime, ctime, inode) taken before the copy started equals the one taken now. Otherwise
   * the early copy is removed and false says "take your own" (what the restore did before this existed).
   */
  use(): Promise<boolean>;
  /** Waits for the copy to end, whatever its outcome, and removes it: for a restore that fails before planning. */
  discard(): Promise<void>;
}

/**
 * Starts the copy on SQLite's worker thread (backup API + integrity_check, see sqlite-snapshot-worker.ts), so it runs
 * beside staging instead of after it. The identity is taken BEFORE the copy starts (db-reuse.ts explains why that
 * order cannot hide a write); a database written within SETTLED_MS gives no identity, and then no early copy is made.
 */
export function startRollbackCopy(live: string, dest: string, busyTimeoutMs: number): EarlyRollbackCopy {
  const task = (async () => {
    const before = await takeLiveSource(live);
    if (!before) return null;
    await snapshotDatabase(live, dest, { busyTimeoutMs, method: "backup-api" });
    await syncFileAndDir(dest);
    return JSON.stringify(before);
  })().catch(() => null); // any failure: the plan takes its own copy, which reports the error as before
  const drop = async () => {
    await rm(dest, { force: true });
    return false;
  };
  return {
    async use() {
      const before = await task;
      if (!before) return drop();
      const now = await takeLiveSource(live).catch(() => undefined);
      return now && JSON.stringify(now) === before ? true : drop();
    },
    async discard() {
      await task;
      await drop();
    },
  };
}

/**
 * The pre-restore backup's own snapshot of the live database (`snapshot`, kept by BackupRequest.keepDatabaseSnapshot)
 * as the rollback copy, instead of copying the live database a second time. `before` is the live identity that backup
 * recorded before its snapshot started (the manifest's liveSource), so the same rule as startRollbackCopy's holds:
 * usable only when the live identity now equals it. `use` moves it to `dest` and makes it durable; otherwise, or on
 * `discard`, it is removed. The snapshot passed integrity_check when the backup took it.
 */
export function rollbackFromSnapshot(snapshot: string, before: LiveDatabaseSource, live: string, dest: string): EarlyRollbackCopy {
  const drop = async () => {
    await rm(snapshot, { force: true });
    return false;
  };
  return {
    async use() {
      const now = await takeLiveSource(live).catch(() => undefined);
      if (!now || !sameLiveSource(now, before)) return drop();
      await rename(snapshot, dest);
      await syncFileAndDir(dest);
      return true;
    },
    discard: async () => void (await drop()),
  };
}

/**
 * The snapshot a pre-restore backup (`pre`) left at `file`, with the pieces and the live identity its manifest recorded
 * for it; null when there is none (that backup reused an earlier record, or was not v2). The pieces are trusted only
 * as far as restore-db-base.ts's whole-file check goes; `before` is undefined when the live database was written too
 * recently to have an identity (then the snapshot is no rollback copy).
 */
export function keptSnapshot(file: string, pre: StoredManifest | undefined): { base: DatabaseBase; before?: LiveDatabaseSource } | null {
  const record = pre?.formatVersion === 2 ? pre.components.database : undefined;
  const entry = record?.status === "included" && record.files.length === 1 ? record.files[0] : undefined;
  if (!entry || entry.path !== DATABASE_ENTRY || !existsSync(file)) return null;
  return { base: { file, pieces: entry.blobs }, ...(record!.liveSource ? { before: record!.liveSource } : {}) };
}
