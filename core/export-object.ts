// The download copy of a v2 backup: its standard .tar.gz written once to exports/<id>.tar.gz, so S3 can hand it out by presigned URL.
import { readManifest } from "./catalog.ts";
import type { Engine, Progress } from "./engine.ts";
import { isBackupId } from "./ids.ts";
import { ValidationError } from "./errors.ts";
import type { ObjectInfo, Storage } from "./storage/storage.ts";
import { exportStream } from "./v2/export.ts";

export const EXPORTS_PREFIX = "exports/";

export function exportKey(id: string): string {
  if (!isBackupId(id)) throw new ValidationError(`export backup: "${id}" is not a backup id`);
  return `${EXPORTS_PREFIX}${id}.tar.gz`;
}

/**
 * The bucket's lifecycle rule deletes exports/ objects one day after they were written (infra/storage.ts; S3 rounds
 * that up to the next midnight UTC, so never sooner). An export older than this is written again rather than handed
 * out, so a download URL never points at an object that expires while it is valid.
 */
export const EXPORT_FRESH_MS = 20 * 3600_000;

/** The stored export of `id` if one was written within EXPORT_FRESH_MS, else null. */
export async function freshExport(storage: Storage, id: string, now: Date): Promise<ObjectInfo | null> {
  const info = await storage.stat(exportKey(id));
  return info && now.getTime() - info.modified.getTime() < EXPORT_FRESH_MS ? info : null;
}

export interface ExportResult {
  backupId: string;
  key: string;
  sizeBytes: number;
  /** True when a fresh export was already stored and nothing was written. */
  reused: boolean;
}

/**
 * Writes the backup's standard archive to exports/<id>.tar.gz (streamed: a multipart upload on S3, never in memory).
 * Exports are byte-identical every time (core/v2/export.ts), so replacing a stale one changes nothing a reader sees.
 */
export async function writeExport(engine: Engine, backupId: string, onProgress?: (p: Progress) => void): Promise<ExportResult> {
  const key = exportKey(backupId);
  const m = await readManifest(engine.storage, backupId);
  const fresh = await freshExport(engine.storage, backupId, engine.now());
  if (fresh) return { backupId, key, sizeBytes: fresh.size, reused: true };
  onProgress?.({ phase: "archive", done: 0, total: 0 });
  const info = await engine.storage.put(key, await exportStream(engine.storage, m));
  onProgress?.({ phase: "archive", done: info.size, total: info.size });
  engine.log.info("export written", { backupId, key, sizeBytes: info.size });
  return { backupId, key, sizeBytes: info.size, reused: false };
}
