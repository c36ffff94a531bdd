// The per-run history: one row per backup, verify, restore or cleanup run from the audit trail, failures included, with duration and size.
import { readAudit, type AuditRecord } from "./catalog.ts";
import type { BackupSummary } from "./catalog-scan.ts";
import { backupSizeBytes } from "./manifest.ts";
import type { Storage } from "./storage/storage.ts";

export const RUN_ACTIONS = ["backup", "verify", "restore", "cleanup"] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

export interface RunRow {
  at: string;
  action: RunAction;
  actor: string;
  result: AuditRecord["result"];
  backupId?: string;
  components?: string[];
  /** Null when the record has none (restores that failed, records written before durations were kept). */
  durationMs: number | null;
  /** The size of the backup the run made or read (archive bytes, or stored bytes for v2); for cleanup, the bytes freed. */
  sizeBytes: number | null;
  /** v2 backups: what the run added to the store, and the files it reused unread. */
  bytesAdded?: number;
  filesReused?: number;
  /** Cleanups: the partly used packs it repacked, the bytes it copied for that, and what a later cleanup frees by it. */
  repack?: { packsRepacked: number; bytesCopied: number; freeableBytes: number };
  error?: string;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * Newest first, at most `limit` runs. Sizes come from the record when it has one, else from the backup's manifest while the
 * backup exists; a failed backup has no size. Deletes and test emails are not runs and are left out.
 */
export async function runHistory(storage: Storage, backups: readonly BackupSummary[], limit: number): Promise<RunRow[]> {
  const byId = new Map(backups.map((b) => [b.id, b]));
  // Deletes and test emails are usually few, so reading twice the limit nearly always fills the page.
  const records = await readAudit(storage, Math.min(limit * 2, 2000));
  const rows: RunRow[] = [];
  for (const r of records) {
    if (!(RUN_ACTIONS as readonly string[]).includes(r.action)) continue;
    // A cleanup also writes one record per leftover it removed; those are parts of a run, not runs.
    if (r.action === "cleanup" && r.detail && "leftover" in r.detail) continue;
    const b = r.backupId ? byId.get(r.backupId) : undefined;
    const d = r.detail ?? {};
    const row: RunRow = {
      at: r.at,
      action: r.action as RunAction,
      actor: r.actor,
      result: r.result,
      durationMs: num(d.durationMs),
      // A failed backup wrote no manifest, so its id finds nothing here and its size stays unknown.
      sizeBytes: num(d.sizeBytes) ?? num(d.freedBytes) ?? (b ? backupSizeBytes(b) : null),
      ...(r.backupId ? { backupId: r.backupId } : {}),
      ...(r.components ? { components: r.components } : {}),
      ...(r.error ? { error: r.error } : {}),
    };
    if (r.action === "backup" && r.result === "succeeded" && b?.formatVersion === 2) {
      row.bytesAdded = b.stored.bytesAdded;
      row.filesReused = b.stored.filesReused;
    }
    // Audit records of cleanups from before repacking have no repack counts: no numbers rather than zeros.
    const packsRepacked = num(d.packsRepacked);
    if (r.action === "cleanup" && packsRepacked !== null) {
      row.repack = { packsRepacked, bytesCopied: num(d.repackRewrittenBytes) ?? 0, freeableBytes: num(d.repackFreeableBytes) ?? 0 };
    }
    rows.push(row);
    if (rows.length === limit) break;
  }
  return rows;
}
