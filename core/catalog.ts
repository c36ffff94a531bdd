// The catalog of completed backups: listing and reading stored manifests, removing a backup, and the audit log.
import { randomBytes } from "node:crypto";
import { checkManifest, scanCatalog, type BackupSummary } from "./catalog-scan.ts";
import { NotFoundError, StoreError } from "./errors.ts";
import { archiveKey, auditKey, manifestKey } from "./ids.ts";
import type { BackupType, StoredManifest } from "./manifest.ts";
import { readNewestJson } from "./storage/json-records.ts";
import type { Storage } from "./storage/storage.ts";

export type { BackupSummary, CatalogScan, DamagedManifest, IncompleteBackup, OrphanArchive } from "./catalog-scan.ts";

/** Completed, verified backups (readable manifests beside their archives), newest first; damaged ones are left out (see scanCatalog). */
export async function listBackups(storage: Storage, type?: BackupType): Promise<BackupSummary[]> {
  return (await scanCatalog(storage, type, { backupsOnly: true })).backups;
}

/** One backup's full manifest: NotFoundError if there is none, StoreError naming the key and the reason if it is damaged. */
export async function readManifest(storage: Storage, id: string): Promise<StoredManifest> {
  const key = manifestKey(id);
  let raw: Buffer;
  try {
    raw = await storage.getBuffer(key);
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`find backup: no backup with id ${id}; run \`colab-backup list\` to see the ids`);
    throw err;
  }
  const checked = checkManifest(raw, id);
  if ("reason" in checked) {
    throw new StoreError(`read manifest ${key}: ${checked.reason}; the backup cannot be used until the manifest is repaired, or removed with \`colab-backup delete ${id}\``);
  }
  return checked.manifest;
}

/** The newest backup, optionally of one type; NotFoundError if there is none. */
export async function latestBackup(storage: Storage, type?: BackupType): Promise<BackupSummary> {
  const [m] = await listBackups(storage, type);
  if (!m) throw new NotFoundError(`find backup: there are no ${type ?? ""} backups yet; run \`colab-backup backup\` first`.replace("  ", " "));
  return m;
}

/** Removes a backup: manifest first so it is never listed without its archive. */
export async function removeBackup(storage: Storage, id: string): Promise<void> {
  await storage.delete(manifestKey(id));
  await storage.delete(archiveKey(id));
}

export interface AuditRecord {
  at: string;
  actor: string;
  action: "backup" | "restore" | "delete" | "cleanup" | "verify" | "test-email";
  backupId?: string;
  components?: string[];
  result: "succeeded" | "failed" | "rolled-back";
  detail?: Record<string, unknown>;
  error?: string;
}

/** Appends one record; each is its own object, so appends never rewrite history (and work on S3). */
export async function appendAudit(storage: Storage, record: Omit<AuditRecord, "at">, now = new Date()): Promise<AuditRecord> {
  const full: AuditRecord = { at: now.toISOString(), ...record };
  await storage.put(auditKey(now, randomBytes(4).toString("hex")), JSON.stringify(full, null, 2) + "\n");
  return full;
}

/** Audit records, newest first. */
export async function readAudit(storage: Storage, limit = 100): Promise<AuditRecord[]> {
  return readNewestJson<AuditRecord>(storage, "audit/", limit);
}

