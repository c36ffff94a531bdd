// Moving blob references to new pack locations: the one place a manifest's blobs are pointed from old packs to new ones (repack).
import type { StoredBlob } from "../manifest.ts";

/** Where a stored blob was (its pack and offset), as a map key. */
export const locationKey = (pack: string, offset: number): string => `${pack}\u0000${offset}`;

/** A blob's new place; its stored bytes (length, encoding, SHA-256) are the same as at the old place. */
export type NewLocation = Pick<StoredBlob, "pack" | "offset" | "length" | "encoding" | "sha256">;

/** Old location (locationKey) -> new location of every blob a repack copied. */
export type Relocations = ReadonlyMap<string, NewLocation>;

/**
 * Points every stored blob of a v2 manifest (expanded form: every blob's `pack` a key, as decodeManifest and the schema
 * give) that sits at a relocated place to its new place, in place, and returns how many it changed. Covers each file's
 * pieces and, for a database piece stored as page patches, its base (the piece's own pack and offset) and every bundle.
 * Works on the unchecked JSON as well as on a checked manifest, so the caller can compare the two results. Throws when a
 * relocated blob's recorded length, encoding or SHA-256 differ from what was copied: the copy would not be that blob.
 */
export function relocateManifest(manifest: unknown, moves: Relocations): number {
  let changed = 0;
  const move = (ref: Record<string, unknown>, sha256: unknown) => {
    if (typeof ref.pack !== "string" || typeof ref.offset !== "number") return;
    const to = moves.get(locationKey(ref.pack, ref.offset));
    if (!to) return;
    if (ref.length !== to.length || ref.encoding !== to.encoding || sha256 !== to.sha256) {
      throw new Error(`relocate blob at ${ref.pack}@${ref.offset}: the manifest records ${String(ref.length)} ${String(ref.encoding)} bytes of ${String(sha256)}, the copy is ${to.length} ${to.encoding} bytes of ${to.sha256}`);
    }
    ref.pack = to.pack;
    ref.offset = to.offset;
    changed++;
  };
  for (const file of filesOf(manifest)) {
    for (const b of Array.isArray(file.blobs) ? file.blobs : []) {
      if (!isRecord(b)) continue;
      const patches = Array.isArray(b.patches) && b.patches.length > 0 ? b.patches : null;
      // A patched piece's pack, offset and length are its base's, whose SHA-256 is `base` (core/v2/db-pieces.ts baseOf).
      move(b, patches ? b.base : b.sha256);
      for (const p of patches ?? []) if (isRecord(p) && isRecord(p.bundle)) move(p.bundle, p.bundle.sha256);
    }
  }
  return changed;
}

function* filesOf(manifest: unknown): Generator<Record<string, unknown>> {
  if (!isRecord(manifest) || manifest.formatVersion !== 2 || !isRecord(manifest.components)) return;
  for (const c of Object.values(manifest.components)) {
    if (isRecord(c) && Array.isArray(c.files)) for (const f of c.files) if (isRecord(f)) yield f;
  }
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
