// What a new v2 backup can reuse: blobs already in the store (by SHA-256) and the previous backup's file records.
import { readManifest, listBackups } from "../catalog.ts";
import { BACKUP_TYPES, type BlobRef, type FileEntryV2, type StoredManifestV2 } from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { storedBlobs } from "./db-pieces.ts";

export interface StoreIndex {
  /** Blobs known to be present in a pack that exists and is long enough. */
  blobs: Map<string, BlobRef>;
  /** The newest v2 backup's files by entry path, for change detection by metadata. */
  previous: Map<string, FileEntryV2>;
  previousId?: string;
  /** The manifest previousId names, as read here (db-reuse.ts needs its database record). */
  previousManifest?: StoredManifestV2;
  /** Whether every blob a piece needs is in a pack that exists and is long enough. */
  present: (r: BlobRef) => boolean;
}

/**
 * Reads the newest v2 manifest of each backup type (at most five reads, whatever the store's size) and lists the
 * packs once. A blob that only older backups reference may be stored again: a harmless duplicate that garbage
 * collection (core/v2/gc.ts) removes once no backup references its pack. A reference to a pack that is gone or short is not trusted.
 */
export async function loadStoreIndex(storage: Storage): Promise<StoreIndex> {
  const listed = (await listBackups(storage)).filter((b) => b.formatVersion === 2);
  const newest = BACKUP_TYPES.map((t) => listed.find((b) => b.type === t)).filter((b) => b !== undefined);
  const packSizes = new Map((await storage.list("data/packs/")).map((o) => [o.key, o.size]));
  // A patched database piece is present when its base and every bundle it reads are.
  const present = (r: BlobRef) => storedBlobs(r).every((s) => (packSizes.get(s.pack) ?? -1) >= s.offset + s.length);
  const blobs = new Map<string, BlobRef>();
  // One manifest at a time, only the newest kept whole: parsed together, five of them (one per type) were five
  // copies of nearly the same file list in memory at once (~23 MiB each at bench scale 4).
  let latest: StoredManifestV2 | undefined;
  for (const b of newest) {
    const m = await readManifest(storage, b.id).catch(() => null);
    if (m?.formatVersion !== 2) continue;
    for (const c of Object.values(m.components)) for (const f of c.files) for (const r of f.blobs) if (present(r)) blobs.set(r.sha256, r);
    if (!latest || latest.createdAt < m.createdAt) latest = m;
  }
  const previous = new Map<string, FileEntryV2>();
  for (const c of Object.values(latest?.components ?? {})) {
    for (const f of c.files) if (f.source && f.blobs.every(present)) previous.set(f.path, f);
  }
  return { blobs, previous, present, ...(latest ? { previousId: latest.id, previousManifest: latest } : {}) };
}
