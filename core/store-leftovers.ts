// Backups' leftovers in the store: the pending marker a run writes first, and removing what killed runs and lost manifests left (audited).
import { appendAudit } from "./catalog.ts";
import { findLeftovers, type DamagedManifest, type IncompleteBackup, type OrphanArchive } from "./catalog-scan.ts";
import type { Engine } from "./engine.ts";
import { NotFoundError, StoreError, errorMessage } from "./errors.ts";
import { archiveKey, manifestKey, pendingKey } from "./ids.ts";

/** How long an archive without a manifest is kept before cleanup removes it: time for an admin to notice and rescue it. */
export const ORPHAN_GRACE_MS = 7 * 24 * 3600 * 1000;

/** Written before a backup stores any byte of its archive, so a killed run's archive is known as its leftover, not an orphan. */
export async function markPending(engine: Engine, id: string): Promise<void> {
  const marker = { id, startedAt: engine.now().toISOString(), pid: process.pid, host: engine.host };
  await engine.storage.put(pendingKey(id), JSON.stringify(marker) + "\n");
}

/** Removed last: after the manifest (success) or after the partial archive (failure). */
export async function clearPending(engine: Engine, id: string): Promise<void> {
  await engine.storage.delete(pendingKey(id));
}

/**
 * Removes the archives and markers of runs that started and never finished, each with an audit record. Only call under
 * the store lock: then no run that wrote a marker is still alive. A removal that fails (e.g. the backup role on AWS may
 * not delete archives) keeps the marker, so cleanup finds the leftover again. Returns the ids removed.
 */
export async function removeIncomplete(engine: Engine, actor: string): Promise<string[]> {
  const { incomplete, staleMarkers } = await findLeftovers(engine.storage);
  for (const key of staleMarkers) await engine.storage.delete(key); // the run finished; only its marker was left
  const removed: string[] = [];
  for (const run of incomplete) {
    try {
      await removeIncompleteRun(engine, run, actor);
      removed.push(run.id);
    } catch (err) {
      engine.log.warn("could not remove the leftovers of an interrupted backup; cleanup will try again", { id: run.id, error: errorMessage(err) });
    }
  }
  return removed;
}

async function removeIncompleteRun(engine: Engine, run: IncompleteBackup, actor: string): Promise<void> {
  if (run.archive) await engine.storage.delete(run.archive.key);
  await engine.storage.delete(run.marker);
  const message = run.archive
    ? `removed the incomplete archive of interrupted backup ${run.id}`
    : `removed the marker of interrupted backup ${run.id}, which stored no archive`;
  engine.log.warn(message, { id: run.id, archive: run.archive?.key, startedAt: run.startedAt, pid: run.pid, host: run.host });
  await appendAudit(
    engine.storage,
    { actor, action: "cleanup", backupId: run.id, result: "succeeded", detail: { leftover: "incomplete", message, archive: run.archive, startedAt: run.startedAt, pid: run.pid, host: run.host } },
    engine.now(),
  );
}

/** Splits orphans into those past the grace period, which it removes (audited), and those it keeps for now. */
export async function removeExpiredOrphans(engine: Engine, orphans: OrphanArchive[], actor: string): Promise<{ removed: OrphanArchive[]; kept: OrphanArchive[] }> {
  const cutoff = engine.now().getTime() - ORPHAN_GRACE_MS;
  const removed: OrphanArchive[] = [];
  const kept: OrphanArchive[] = [];
  for (const o of orphans) {
    if (Date.parse(o.modified) > cutoff) {
      kept.push(o);
      continue;
    }
    // Only the very object judged an orphan: one replaced since the listing is judged again next time.
    const now = await engine.storage.stat(o.key);
    if (!now || now.modified.toISOString() !== o.modified) continue;
    await engine.storage.delete(o.key);
    const message = `removed the orphan archive ${o.key}: it had no manifest for more than ${ORPHAN_GRACE_MS / 86_400_000} days`;
    engine.log.warn(message, { key: o.key, sizeBytes: o.sizeBytes, modified: o.modified });
    await appendAudit(engine.storage, { actor, action: "cleanup", ...(o.id ? { backupId: o.id } : {}), result: "succeeded", detail: { leftover: "orphan", message, key: o.key, sizeBytes: o.sizeBytes, modified: o.modified } }, engine.now());
    removed.push(o);
  }
  return { removed, kept };
}

export type UnlistedKind = "damaged" | "orphan" | "incomplete";

/**
 * Deletes by id what is not a readable backup: a damaged manifest with its archive, an orphan archive, or an interrupted
 * run's leftovers. The caller holds the store lock and has found no readable manifest; NotFoundError if nothing is there.
 */
export async function deleteUnlisted(engine: Engine, id: string, actor: string, damaged: StoreError | null): Promise<{ kind: UnlistedKind; freedBytes: number }> {
  const { storage } = engine;
  const [manifest, archive, marker] = await Promise.all([storage.stat(manifestKey(id)), storage.stat(archiveKey(id)), storage.stat(pendingKey(id))]);
  if (!manifest && !archive && !marker) throw new NotFoundError(`find backup: no backup with id ${id}; run \`colab-backup list\` to see the ids`);
  const kind: UnlistedKind = manifest ? "damaged" : marker ? "incomplete" : "orphan";
  // Manifest first, as for any backup; the marker last, so a failure part-way leaves it findable.
  if (manifest) await storage.delete(manifest.key);
  if (archive) await storage.delete(archive.key);
  if (marker) await storage.delete(marker.key);
  const freedBytes = archive?.size ?? 0;
  const reason: DamagedManifest["reason"] | undefined = damaged?.message;
  await appendAudit(
    storage,
    { actor, action: "delete", backupId: id, result: "succeeded", detail: { kind, sizeBytes: freedBytes, ...(archive ? { archive: archive.key } : {}), ...(reason ? { damaged: reason } : {}) } },
    engine.now(),
  );
  engine.log.warn(`deleted the ${kind} backup ${id}`, { id, archive: archive?.key, freedBytes });
  return { kind, freedBytes };
}
