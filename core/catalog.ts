// The catalog of completed backups: listing and reading stored manifests, leftovers of failed runs, and the audit log.
import { randomBytes } from "node:crypto";
import { NotFoundError } from "./errors.ts";
import { archiveKey, auditKey, isBackupId, manifestKey } from "./ids.ts";
import { AnyManifestSchema, BACKUP_TYPES, type BackupType, type ComponentRecord, type StoredManifest, type StoredManifestV1, type StoredManifestV2 } from "./manifest.ts";
import { readNewestJson } from "./storage/json-records.ts";
import type { Storage } from "./storage/storage.ts";

/** A stored manifest without the per-file lists: what listings need, small enough to keep for thousands of backups. */
export type BackupSummary =
  | (Omit<StoredManifestV1, "components"> & { components: Record<string, Omit<ComponentRecord, "files">> })
  | (Omit<StoredManifestV2, "components"> & { components: Record<string, Omit<ComponentRecord, "files">> });

// Stored manifests never change once written, so a summary read once is valid for as long as the object's version is.
const summaries = new Map<string, { version: string; summary: BackupSummary }>();
const SUMMARY_CACHE_LIMIT = 50_000;

function summarize(m: StoredManifest): BackupSummary {
  return { ...m, components: Object.fromEntries(Object.entries(m.components).map(([n, { files: _files, ...rest }]) => [n, rest])) } as BackupSummary;
}

/** Completed, verified backups (those with a manifest beside the archive), newest first. */
export async function listBackups(storage: Storage, type?: BackupType): Promise<BackupSummary[]> {
  const types = type ? [type] : BACKUP_TYPES;
  const found = (await Promise.all(types.map((t) => storage.list(`${t}/`)))).flat();
  const manifests = found.filter((o) => o.key.endsWith(".json") && isBackupId(o.key.slice(o.key.indexOf("/") + 1, -".json".length)));
  const out = await mapLimit(manifests, 16, async (obj) => {
    const cacheKey = `${storage.description}\u0000${obj.key}`;
    const hit = summaries.get(cacheKey);
    if (hit && hit.version === obj.version) return hit.summary;
    const m = await readManifest(storage, obj.key.slice(obj.key.indexOf("/") + 1, -".json".length)).catch((err) => {
      if (err instanceof NotFoundError) return null; // deleted while listing
      throw err;
    });
    if (!m) return null;
    const summary = summarize(m);
    if (summaries.size >= SUMMARY_CACHE_LIMIT) summaries.delete(summaries.keys().next().value!);
    summaries.set(cacheKey, { version: obj.version, summary });
    return summary;
  });
  return out
    .filter((m): m is BackupSummary => m !== null)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
}

/** Like Promise.all over items, with at most `limit` running at once (S3 and file handles are finite). */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function readManifest(storage: Storage, id: string): Promise<StoredManifest> {
  let raw: Buffer;
  try {
    raw = await storage.getBuffer(manifestKey(id));
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`find backup: no backup with id ${id}; run \`colab-backup list\` to see the ids`);
    throw err;
  }
  const m = AnyManifestSchema.parse(JSON.parse(raw.toString("utf8")));
  if (m.formatVersion === 1 ? !m.archive : !m.stored) throw new NotFoundError(`find backup: ${id} has no verified archive recorded`);
  return m as StoredManifest;
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

/** Archives with no manifest beside them are leftovers of runs that crashed or failed; only call under the store lock. */
export async function removeLeftovers(storage: Storage): Promise<string[]> {
  const removed: string[] = [];
  for (const t of BACKUP_TYPES) {
    const objs = await storage.list(`${t}/`);
    const keys = new Set(objs.map((o) => o.key));
    for (const o of objs) {
      if (o.key.endsWith(".tar.gz") && !keys.has(o.key.replace(/\.tar\.gz$/, ".json"))) {
        await storage.delete(o.key);
        removed.push(o.key);
      }
    }
  }
  return removed;
}

export interface AuditRecord {
  at: string;
  actor: string;
  action: "backup" | "restore" | "delete" | "cleanup" | "verify";
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

