// Creating a backup: snapshot and hash the components, stream the archive into the store, re-read it, then list it.
import { timePhase } from "./v2/phase-clock.ts";
import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { FileChangedError, createArchiveStream, type ArchiveSource } from "./archive/write.ts";
import { HashingPassThrough, sha256File, sha256Stream } from "./archive/hashing.ts";
import { restoreGuide } from "./archive/restore-guide.ts";
import type { Engine, Progress } from "./engine.ts";
import { BackupError, ChecksumMismatchError, ObjectExistsError, ValidationError } from "./errors.ts";
import { putOnce } from "./storage/put-once.ts";
import { recordInCatalogIndex } from "./catalog-index.ts";
import { LOCK_KEY, archiveKey, manifestKey, newBackupId, slotKey } from "./ids.ts";
import { acquireLock } from "./lock.ts";
import { audited } from "./audit-outcome.ts";
import {
  COMPONENTS, DATABASE_ENTRY, MANIFEST_FORMAT_VERSION,
  type BackupType, type ComponentName, type ComponentRecord, type ComponentRecordV2, type Manifest, type StoredManifest, type StoredManifestV1,
} from "./manifest.ts";
import { backupSizeBytes } from "./manifest.ts";
import { collectConfig, collectLogs, collectUploads, type CollectedComponent } from "./sources/files.ts";
import { snapshotDatabase } from "./sources/sqlite.ts";
import { nameFullDisk } from "./disk-full.ts";
import { recoverUnderLock } from "./restore-recovery.ts";
import { sweepAbandonedWork } from "./startup.ts";
import { clearPending, markPending, removeIncomplete } from "./store-leftovers.ts";
import { workName } from "./work-dir.ts";
import { createBackupV2 } from "./v2/writer.ts";

export interface BackupRequest {
  type: BackupType;
  description?: string;
  components?: readonly ComponentName[];
  /** For scheduled runs: the slot's time. A second run for the same type and time is skipped. */
  scheduledAt?: Date;
  actor?: string;
  /** A pre-assigned id, so an API can answer with the backup's id before the work starts. */
  id?: string;
  /** v2 only: read and hash every file even when its size, times and inode say it is unchanged. */
  rehash?: boolean;
  /**
   * v2 only: move the database snapshot this backup took to this path (which must not exist) instead of deleting it,
   * once the backup has succeeded. Nothing is moved when the backup reused the previous database record (no snapshot).
   * A restore's pre-restore backup uses it as its rollback copy and staging base (core/restore-db-snapshot.ts).
   */
  keepDatabaseSnapshot?: string;
  /**
   * v2 only: told each component's record once it is complete (the database's after its snapshot passed
   * integrity_check), before the backup's manifest is written, with the snapshot file the database record describes
   * (until the backup ends; absent when the record was reused). A restore starts staging its database from it meanwhile.
   * Must not throw; nothing is a backup until the outcome says so.
   */
  onComponent?: (name: ComponentName, record: ComponentRecordV2, snapshot?: string) => void;
  onProgress?: (p: Progress) => void;
}

export type BackupOutcome =
  | { skipped: false; manifest: StoredManifest; durationMs: number }
  | { skipped: true; reason: string; existingId: string };

export const TOOL_NAME = "colab-backup";

/** Claims the schedule slot if any, takes the store lock, and creates one verified backup; the audit trail records the outcome. */
export async function runBackup(engine: Engine, req: BackupRequest): Promise<BackupOutcome> {
  const id = req.id ?? newBackupId(req.type, engine.now());
  return audited(engine, { actor: req.actor ?? "scheduler", action: "backup", backupId: id }, () => runBackupOnce(engine, { ...req, id }),
    // The size is kept in the record so the run history still shows it after retention deletes the backup.
    (o) => (o.skipped ? null : { backupId: o.manifest.id, detail: { type: req.type, sizeBytes: backupSizeBytes(o.manifest) } }));
}

async function runBackupOnce(engine: Engine, req: BackupRequest & { id: string }): Promise<BackupOutcome> {
  const id = req.id;
  let slot: string | undefined;
  if (req.scheduledAt) {
    // The slot is claimed before the lock, so a second delivery of the same event always learns the winner's id.
    slot = slotKey(req.type, req.scheduledAt);
    const claim = JSON.stringify({ backupId: id, claimedAt: engine.now().toISOString() });
    if (!(await engine.storage.createExclusive(slot, claim))) {
      const existing = JSON.parse((await engine.storage.getBuffer(slot)).toString("utf8")) as { backupId: string };
      engine.log.info("backup skipped: slot already taken", { slot, existingId: existing.backupId });
      return { skipped: true, reason: `the ${req.type} backup for ${req.scheduledAt.toISOString()} already ran or is running`, existingId: existing.backupId };
    }
  }
  try {
    const lock = await timePhase("lock", () => acquireLock(engine.storage, LOCK_KEY, { id: `backup-${req.type}`, operation: `${req.type} backup` }));
    try {
      // Never back up a half-restored CRM: end a dead restore's journal first.
      await timePhase("recover restore", () => recoverUnderLock(engine));
      // Best effort: on AWS the backup role may not delete archives, and cleanup removes these leftovers too.
      await timePhase("leftovers", () => removeIncomplete(engine, req.actor ?? "scheduler").catch((err) => {
        engine.log.warn("could not look for leftovers of an interrupted backup; cleanup will", { error: (err as Error).message });
      }));
      await timePhase("sweep work", () => sweepAbandonedWork(engine));
      return await createBackupWithRetry(engine, req, id);
    } finally {
      await lock.release();
    }
  } catch (err) {
    // Free the slot so a redelivered event can try again.
    if (slot) await engine.storage.delete(slot).catch(() => undefined);
    throw err;
  }
}

async function createBackupWithRetry(engine: Engine, req: BackupRequest, id: string): Promise<BackupOutcome> {
  try {
    return await createBackup(engine, req, id);
  } catch (err) {
    if (!(err instanceof FileChangedError)) throw err;
    engine.log.warn("a file changed during the backup; trying once more", { error: err.message });
    // Same id: the failed attempt left nothing under it (v1 removes its archive and marker, v2 writes the manifest
    // last), and the id may already have been handed out (the API's 202, a job record), so it must name the result.
    return createBackup(engine, req, id);
  }
}

/** Creates one backup; the caller holds the store lock. */
export async function createBackup(engine: Engine, req: BackupRequest, id = newBackupId(req.type, engine.now())): Promise<BackupOutcome> {
  // BACKUP_FORMAT=v2 (experimental): content-addressed blobs instead of one archive; see core/v2/FORMAT.md.
  if (engine.config.backupFormat === "v2") return createBackupV2(engine, req, id, TOOL_NAME);
  const started = Date.now();
  const components = req.components?.length ? [...new Set(req.components)] : [...COMPONENTS];
  for (const c of components) {
    if (!COMPONENTS.includes(c)) throw new ValidationError(`create backup: unknown component "${c}"; choose from ${COMPONENTS.join(", ")}`);
  }
  const workDir = path.join(engine.workRoot, workName("work", id));
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const key = archiveKey(id);
  let stored = false;
  try {
    const { records, sources } = await gatherComponents(engine, components, workDir, req.onProgress);
    const missing = Object.entries(records).filter(([, r]) => r.status === "missing");
    // A backup of nothing would pass for a good one; only a pre-restore backup may be empty (there is nothing to keep).
    if (missing.length === components.length && req.type !== "pre-restore") {
      throw new BackupError(`create backup: every requested component is missing (${missing.map(([n, r]) => `${n}: ${r.note}`).join("; ")}); check CRM_ROOT, UPLOADS_DIR and LOGS_DIR`);
    }
    const manifest: Manifest = {
      formatVersion: MANIFEST_FORMAT_VERSION,
      tool: TOOL_NAME,
      id,
      name: `${TOOL_NAME}-${id}`,
      type: req.type,
      description: req.description ?? "",
      createdAt: engine.now().toISOString(),
      ...(req.scheduledAt ? { scheduledAt: req.scheduledAt.toISOString() } : {}),
      host: engine.host,
      components: records,
    };
    const total = sources.reduce((n, s) => n + s.size, 0);
    const hasher = new HashingPassThrough();
    const archive = createArchiveStream(manifest, restoreGuide(manifest), sources, {
      onProgress: (done) => req.onProgress?.({ phase: "archive", done, total }),
    });
    archive.on("error", (err) => hasher.destroy(err));
    // The put reads the hasher and reports its failure; a destroy arriving after the put stopped reading must not
    // become an uncaught exception that kills the process (it did when a file shrank during archiving).
    hasher.on("error", () => undefined);
    await markPending(engine, id);
    stored = true;
    // Written once (ifAbsent): on S3 the bucket policy refuses any put that could replace a backup's objects.
    await engine.storage.put(key, archive.pipe(hasher), { ifAbsent: true });
    const written = { sha256: hasher.digest(), size: hasher.size };

    // Listed only once the stored bytes are read back and match what was written.
    req.onProgress?.({ phase: "verify", done: 0, total: written.size });
    const reread = await sha256Stream(await engine.storage.get(key));
    if (reread.sha256 !== written.sha256 || reread.size !== written.size) {
      throw new ChecksumMismatchError(`verify stored archive ${key}: read back ${reread.size} bytes with SHA-256 ${reread.sha256}, wrote ${written.size} bytes with ${written.sha256}; check the backup disk`);
    }
    req.onProgress?.({ phase: "verify", done: written.size, total: written.size });
    // S3 fixes metadata when an upload starts, before the hash is known; tags can be set afterwards.
    await engine.storage.setTags?.(key, { "colab-backup-sha256": written.sha256, "colab-backup-id": id, "colab-backup-type": req.type });
    const final: StoredManifestV1 = {
      ...manifest,
      completedAt: engine.now().toISOString(),
      archive: { key, sizeBytes: written.size, sha256: written.sha256, verifiedAt: engine.now().toISOString() },
    };
    const manifestInfo = await putOnce(engine.storage, manifestKey(id), JSON.stringify(final, null, 2) + "\n");
    await recordInCatalogIndex(engine.storage, manifestKey(id), final, manifestInfo);
    // A marker left by a kill right here is harmless: the next run sees the manifest and drops it.
    await clearPending(engine, id).catch((err) => engine.log.warn("could not remove the pending marker of a finished backup", { id, error: (err as Error).message }));
    engine.log.info("backup succeeded", { id, type: req.type, sizeBytes: written.size });
    return { skipped: false, manifest: final, durationMs: Date.now() - started };
  } catch (err) {
    // The marker goes only once the partial archive is gone, so a failed delete leaves a leftover the next run knows.
    // An archive found already there (ObjectExistsError) is not this run's to delete.
    if (stored && !(err instanceof ObjectExistsError)) await engine.storage.delete(key).then(() => clearPending(engine, id)).catch(() => undefined);
    // Snapshots and gzipped logs are written to the work folder, on the store's disk when the store is local.
    throw await nameFullDisk(err, engine.workRoot, "create backup");
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function gatherComponents(engine: Engine, components: ComponentName[], workDir: string, onProgress?: (p: Progress) => void) {
  const { paths } = engine.config;
  const records: Record<string, ComponentRecord> = {};
  const sources: ArchiveSource[] = [];
  const add = (name: ComponentName, got: CollectedComponent, extra: Partial<ComponentRecord> = {}) => {
    const size = got.sources.reduce((n, s) => n + s.size, 0);
    records[name] = {
      status: got.missing ? "missing" : "included",
      ...(got.missing ? { note: got.missing } : got.skipped.length ? { note: got.skipped.join("; ") } : {}),
      fileCount: got.sources.length,
      totalSize: size,
      files: got.sources.map((s) => ({
        path: s.path, size: s.size, sha256: s.sha256, mode: s.mode & 0o777, mtime: s.mtime.toISOString(),
        ...(s.originalSize !== undefined ? { originalSize: s.originalSize } : {}),
      })),
      ...extra,
    };
    sources.push(...got.sources);
  };
  for (const name of components) {
    onProgress?.({ phase: name === "database" ? "snapshot" : "hash", done: 0, total: 0 });
    if (name === "database") {
      const snap = path.join(workDir, "dev.db");
      const facts = await snapshotDatabase(paths.database, snap, { busyTimeoutMs: engine.config.dbBusyTimeoutMs });
      const st = await stat(snap);
      const { sha256 } = await sha256File(snap);
      add("database", { sources: [{ path: DATABASE_ENTRY, file: snap, size: st.size, mode: 0o644, mtime: st.mtime, sha256 }], skipped: [] }, { database: facts });
    } else if (name === "uploads") add(name, await collectUploads(paths.uploads));
    else if (name === "config") add(name, await collectConfig(paths.root, paths.configFiles));
    else add(name, await collectLogs(paths.logs, workDir));
  }
  return { records, sources };
}
