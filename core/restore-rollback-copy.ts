// The live database's rollback copy taken early, while the restore stages, and kept only if the live database provably did not change since.
import { rm } from "node:fs/promises";
import { snapshotDatabase } from "./sources/sqlite.ts";
import { syncFileAndDir } from "./storage/fs-storage.ts";
import { takeLiveSource } from "./v2/db-reuse.ts";

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
