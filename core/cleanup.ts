// Cleanup and delete: applies the retention plan to the store (or only reports it), and deletes single backups; both audited.
import { appendAudit, listBackups, readManifest, removeBackup, removeLeftovers } from "./catalog.ts";
import type { Engine } from "./engine.ts";
import { LOCK_KEY } from "./ids.ts";
import { acquireLock } from "./lock.ts";
import { backupFreedBytes } from "./manifest.ts";
import { planRetention, type RetentionDecision } from "./retention.ts";

export interface CleanupOutcome {
  dryRun: boolean;
  keep: RetentionDecision[];
  remove: RetentionDecision[];
  removed: string[];
  freedBytes: number;
  leftoversRemoved: string[];
}

export async function runCleanup(engine: Engine, opts: { dryRun?: boolean; actor?: string } = {}): Promise<CleanupOutcome> {
  const dryRun = opts.dryRun ?? false;
  const plan = async () => {
    const backups = await listBackups(engine.storage);
    const sizes = new Map(backups.map((b) => [b.id, backupFreedBytes(b)]));
    const { keep, remove } = planRetention(backups, { ...engine.config.retention, timeZone: engine.config.timeZone }, engine.now());
    return { keep, remove, sizes };
  };
  if (dryRun) {
    const { keep, remove, sizes } = await plan();
    return { dryRun, keep, remove, removed: [], freedBytes: remove.reduce((n, r) => n + (sizes.get(r.id) ?? 0), 0), leftoversRemoved: [] };
  }
  const lock = await acquireLock(engine.storage, LOCK_KEY, { id: "cleanup", operation: "cleanup" });
  try {
    const leftoversRemoved = await removeLeftovers(engine.storage);
    const { keep, remove, sizes } = await plan();
    const removed: string[] = [];
    let freedBytes = 0;
    for (const r of remove) {
      await removeBackup(engine.storage, r.id);
      removed.push(r.id);
      freedBytes += sizes.get(r.id) ?? 0;
    }
    await appendAudit(engine.storage, { actor: opts.actor ?? "scheduler", action: "cleanup", result: "succeeded", detail: { removed, freedBytes, kept: keep.length } }, engine.now());
    engine.log.info("cleanup completed", { removed: removed.length, freedBytes });
    return { dryRun, keep, remove, removed, freedBytes, leftoversRemoved };
  } finally {
    await lock.release();
  }
}

export async function deleteBackup(engine: Engine, id: string, actor = "cli"): Promise<{ id: string; freedBytes: number }> {
  const lock = await acquireLock(engine.storage, LOCK_KEY, { id: `delete-${id}`, operation: "delete" });
  try {
    const m = await readManifest(engine.storage, id);
    await removeBackup(engine.storage, id);
    await appendAudit(engine.storage, { actor, action: "delete", backupId: id, result: "succeeded", detail: { sizeBytes: backupFreedBytes(m) } }, engine.now());
    // A v2 backup's blobs stay (other backups may share them) until garbage collection, a later change.
    return { id, freedBytes: backupFreedBytes(m) };
  } finally {
    await lock.release();
  }
}
