// Cleanup and delete: applies the retention plan to the readable backups, clears leftovers, and deletes single backups; all audited.
import { appendAudit, readManifest, removeBackup } from "./catalog.ts";
import { scanCatalog, type DamagedManifest, type OrphanArchive } from "./catalog-scan.ts";
import type { Engine } from "./engine.ts";
import { NotFoundError, StoreError } from "./errors.ts";
import { LOCK_KEY } from "./ids.ts";
import { acquireLock } from "./lock.ts";
import { backupFreedBytes } from "./manifest.ts";
import { planRetention, type RetentionDecision } from "./retention.ts";
import { collectGarbage, type Marked, type PackGcOutcome } from "./v2/gc.ts";
import { repackStore, type RepackOutcome } from "./v2/repack.ts";
import { ORPHAN_GRACE_MS, deleteUnlisted, removeExpiredOrphans, removeIncomplete, type UnlistedKind } from "./store-leftovers.ts";

export interface CleanupOutcome {
  dryRun: boolean;
  keep: RetentionDecision[];
  remove: RetentionDecision[];
  removed: string[];
  freedBytes: number;
  /** Ids of interrupted backups whose partial archive and marker were removed. */
  leftoversRemoved: string[];
  /** Manifests that cannot be read: never removed by cleanup, nor their archives. */
  damaged: DamagedManifest[];
  /** Archives without a manifest removed because they were older than the grace period. */
  orphansRemoved: OrphanArchive[];
  /** Archives without a manifest still inside the grace period, each with the time cleanup may remove it. */
  orphansKept: (OrphanArchive & { removableAfter: string })[];
  /** v2 packs no remaining backup references: deleted (counted in freedBytes), or what a dry run would delete. */
  packs: PackGcOutcome;
  /**
   * Packs partly referenced whose used blobs were copied into new packs (core/v2/repack.ts), or what a dry run would
   * copy: `freeableBytes` is freed by the first cleanup an hour or more later, which deletes the old packs.
   */
  repack: RepackOutcome;
}

export interface CleanupOptions {
  dryRun?: boolean;
  actor?: string;
  /** Pack bytes repacking may read (default DEFAULT_MAX_REPACK_BYTES); 0 turns repacking off. */
  maxRepackBytes?: number;
}

const removableAfter = (o: OrphanArchive) => ({ ...o, removableAfter: new Date(Date.parse(o.modified) + ORPHAN_GRACE_MS).toISOString() });

export async function runCleanup(engine: Engine, opts: CleanupOptions = {}): Promise<CleanupOutcome> {
  const dryRun = opts.dryRun ?? false;
  const actor = opts.actor ?? "scheduler";
  const plan = async () => {
    const scan = await scanCatalog(engine.storage);
    const sizes = new Map(scan.backups.map((b) => [b.id, backupFreedBytes(b)]));
    // Only readable backups count: a damaged manifest's backup is neither kept nor removed by retention.
    const { keep, remove } = planRetention(scan.backups, { ...engine.config.retention, timeZone: engine.config.timeZone }, engine.now());
    return { keep, remove, sizes, scan };
  };
  if (dryRun) {
    const { keep, remove, sizes, scan } = await plan();
    const exclude = new Set(remove.map((r) => r.id));
    let marked: Marked | undefined;
    const packs = await collectGarbage(engine.storage, { scan, exclude, now: engine.now(), dryRun, onMarked: (m) => (marked = m) });
    const repack = await repackStore(engine.storage, { scan, exclude, now: engine.now(), dryRun, maxRepackBytes: opts.maxRepackBytes, marked });
    const freedBytes = remove.reduce((n, r) => n + (sizes.get(r.id) ?? 0), 0) + packs.freedBytes;
    return { dryRun, keep, remove, removed: [], freedBytes, leftoversRemoved: [], damaged: scan.damaged, orphansRemoved: [], orphansKept: scan.orphans.map(removableAfter), packs, repack };
  }
  const started = Date.now();
  const lock = await acquireLock(engine.storage, LOCK_KEY, { id: "cleanup", operation: "cleanup" });
  try {
    const leftoversRemoved = await removeIncomplete(engine, actor);
    const { keep, remove, sizes, scan } = await plan();
    const orphans = await removeExpiredOrphans(engine, scan.orphans, actor);
    const removed: string[] = [];
    let freedBytes = orphans.removed.reduce((n, o) => n + o.sizeBytes, 0);
    for (const r of remove) {
      await removeBackup(engine.storage, r.id);
      removed.push(r.id);
      freedBytes += sizes.get(r.id) ?? 0;
    }
    // Marked against a fresh scan, so the mark sees exactly the manifests left after the removals.
    const after = await scanCatalog(engine.storage);
    let marked: Marked | undefined;
    const packs = await collectGarbage(engine.storage, { scan: after, now: engine.now(), dryRun, onMarked: (m) => (marked = m) });
    freedBytes += packs.freedBytes;
    // After the sweep, so it copies nothing from packs about to go, and from its mark (the manifests are read once);
    // what it frees goes with a later cleanup's sweep.
    const repack = await repackStore(engine.storage, { scan: after, now: engine.now(), dryRun, maxRepackBytes: opts.maxRepackBytes, marked });
    const damagedKeys = scan.damaged.map((d) => d.key);
    await appendAudit(
      engine.storage,
      { actor, action: "cleanup", result: "succeeded", detail: { durationMs: Date.now() - started, removed, freedBytes, kept: keep.length, leftoversRemoved, orphansRemoved: orphans.removed.map((o) => o.key), damagedKept: damagedKeys, ...packsDetail(packs), ...repackDetail(repack) } },
      engine.now(),
    );
    if (packs.blockedBy) engine.log.warn("cleanup deleted no packs", { reason: packs.blockedBy });
    if (packs.failures.length) engine.log.warn("cleanup could not delete some packs", { failures: packs.failures });
    if (repack.failures.length) engine.log.warn("cleanup could not repack some packs", { failures: repack.failures });
    if (damagedKeys.length) engine.log.warn("cleanup left damaged manifests and their archives alone", { damaged: damagedKeys });
    engine.log.info("cleanup completed", { removed: removed.length, freedBytes });
    return { dryRun, keep, remove, removed, freedBytes, leftoversRemoved, damaged: scan.damaged, orphansRemoved: orphans.removed, orphansKept: orphans.kept.map(removableAfter), packs, repack };
  } finally {
    await lock.release();
  }
}

/** Deletes one backup by id; also what is not a readable backup (a damaged manifest, an orphan archive, a killed run's leftovers). */
export async function deleteBackup(engine: Engine, id: string, actor = "cli"): Promise<{ id: string; freedBytes: number; kind: "backup" | UnlistedKind }> {
  const lock = await acquireLock(engine.storage, LOCK_KEY, { id: `delete-${id}`, operation: "delete" });
  try {
    let m;
    try {
      m = await readManifest(engine.storage, id);
    } catch (err) {
      if (!(err instanceof NotFoundError || err instanceof StoreError)) throw err;
      const out = await deleteUnlisted(engine, id, actor, err instanceof StoreError ? err : null);
      return { id, ...out };
    }
    await removeBackup(engine.storage, id);
    // A v2 backup's packs may be shared with others: only those no remaining manifest references go.
    const packs = m.formatVersion === 2 ? await collectGarbage(engine.storage, { scan: await scanCatalog(engine.storage), now: engine.now(), dryRun: false }) : null;
    const freedBytes = backupFreedBytes(m) + (packs?.freedBytes ?? 0);
    await appendAudit(engine.storage, { actor, action: "delete", backupId: id, result: "succeeded", detail: { sizeBytes: freedBytes, ...(packs ? packsDetail(packs) : {}) } }, engine.now());
    if (packs?.blockedBy) engine.log.warn("delete removed the manifest but no packs", { reason: packs.blockedBy });
    return { id, freedBytes, kind: "backup" };
  } finally {
    await lock.release();
  }
}

/** What the audit log keeps of a garbage collection: counts and bytes, not every key. */
const packsDetail = (p: PackGcOutcome) => ({
  packsRemoved: p.packsRemoved.length,
  packBytesFreed: p.freedBytes,
  packsKeptYoung: p.packsKeptYoung,
  packsKeptRepacked: p.packsKeptRepacked,
  ...(p.blockedBy ? { packsBlockedBy: p.blockedBy } : {}),
  ...(p.failures.length ? { packFailures: p.failures } : {}),
});

/** What the audit log keeps of a repack. */
const repackDetail = (r: RepackOutcome) => ({
  packsRepacked: r.packsRepacked.length,
  repackRewrittenBytes: r.rewrittenBytes,
  repackFreeableBytes: r.freeableBytes,
  manifestsRewritten: r.manifestsRewritten,
  ...(r.damagedPacks.length ? { repackDamagedPacks: r.damagedPacks } : {}),
  ...(r.failures.length ? { repackFailures: r.failures } : {}),
});
