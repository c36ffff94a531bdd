// Replacing one stored v2 manifest by the same manifest with its blobs at new places (repack), checked before and after the put.
import { isDeepStrictEqual } from "node:util";
import { checkManifest } from "../catalog-scan.ts";
import { recordInCatalogIndex } from "../catalog-index.ts";
import { manifestKey } from "../ids.ts";
import type { StoredManifestV2 } from "../manifest.ts";
import { decodeManifest, encodeManifest } from "../manifest-codec.ts";
import type { Storage } from "../storage/storage.ts";
import { sha256Hex } from "./blob-codec.ts";
import { relocateManifest, type Relocations } from "./relocate.ts";

/**
 * Points backup `id`'s manifest at the relocated blobs: read, relocated, encoded in today's (compact) form, and put over
 * the old one in one atomic put, which readers see whole or not at all. Any stored form reads (plain JSON, gzipped
 * full JSON, compact); unknown fields are kept, since the relocation works on the decoded JSON, not on the schema's copy.
 * Before the put, the new bytes must decode to exactly the old manifest with the same relocation applied; after it, on
 * stores that do not check a put's SHA-256 themselves, they are read back. Returns false when nothing in it moved.
 * Throws (leaving the old manifest in place) when it is damaged, changed since it was read (ConflictError), or the check fails.
 */
export async function rewriteManifest(storage: Storage, id: string, moves: Relocations): Promise<boolean> {
  const key = manifestKey(id);
  const before = await storage.stat(key);
  if (!before) throw new Error(`${key} is gone`);
  const raw = await storage.getBuffer(key);
  const old = checkManifest(raw, id);
  if ("reason" in old) throw new Error(`${key} cannot be read: ${old.reason}`);
  const json = decodeManifest(raw);
  if (relocateManifest(json, moves) === 0) return false;
  const expected = structuredClone(old.manifest);
  relocateManifest(expected, moves);
  const body = encodeManifest(json as StoredManifestV2);
  const written = checkManifest(body, id);
  if ("reason" in written || !isDeepStrictEqual(written.manifest, expected)) {
    throw new Error(`the rewritten ${key} would not read back as the same backup${"reason" in written ? ` (${written.reason})` : ""}`);
  }
  // Replaces exactly the version read (If-Match on S3): the store lock keeps writers out, this catches another hand on the
  // manifest meanwhile (a delete, a repair), which then keeps its own bytes.
  const info = await storage.put(key, body, { sha256: sha256Hex(body), ifVersion: before.version });
  if (!storage.validatesChecksums && !(await storage.getBuffer(key)).equals(body)) {
    // The old places still exist (the old packs stay until no manifest references them), but this one now does not
    // read as written: say so loudly, the store's disk is failing.
    throw new Error(`${key} read back different from the bytes written; check the backup disk`);
  }
  await recordInCatalogIndex(storage, key, written.manifest, info);
  return true;
}
