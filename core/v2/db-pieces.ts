// A database piece recorded as a base blob plus page patches: the one place that turns such a record into its plaintext.
import { UnsafeArchiveError, ChecksumMismatchError } from "../errors.ts";
import { promisify } from "node:util";
import { deflateRaw, inflateRawSync } from "node:zlib";
import type { BlobRef, PagePatch, StoredBlob } from "../manifest.ts";
import { decodeBlob, sha256Hex } from "./blob-codec.ts";
import type { PackReader } from "./reader.ts";

/** Page sizes SQLite allows; a patch of any other size is not one this tool wrote. */
const PAGE_SIZES = new Set([512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);
/** Decoded bundles kept per reader: a restore walks pieces in file order, and each day's bundle covers a stretch of it. */
const BUNDLE_CACHE = 64;

export const isPatched = (ref: BlobRef): boolean => ref.patches !== undefined && ref.patches.length > 0;

/** The blob a patched piece starts from (its plaintext hashes to `base`); for a plain piece, the piece itself. */
export function baseOf(ref: BlobRef): StoredBlob {
  return { sha256: isPatched(ref) ? ref.base ?? "" : ref.sha256, size: ref.size, pack: ref.pack, offset: ref.offset, length: ref.length, encoding: ref.encoding };
}

/** Every stored blob a piece needs: its base and each patch's bundle (gc keeps their packs, presence checks them). */
export function storedBlobs(ref: BlobRef): StoredBlob[] {
  return isPatched(ref) ? [baseOf(ref), ...ref.patches!.map((p) => p.bundle)] : [ref];
}

/**
 * Patches one record may lay over the same page (a chain, core/v2/db-delta.ts writes at most MAX_PAGE_CHAIN). A record
 * past this is refused: it is not one this tool wrote, and each patch costs an inflate.
 */
export const PAGE_CHAIN_LIMIT = 32;

/**
 * Refuses a patched record that could write outside its piece or read outside its bundle: each patch a whole page of a
 * SQLite page size, page-aligned in the piece, inside it and its bundle, no page patched more than PAGE_CHAIN_LIMIT times.
 */
export function checkPatches(ref: BlobRef, where: string): void {
  if (!isPatched(ref)) return;
  const bad = (why: string) => new UnsafeArchiveError(`read piece ${ref.sha256.slice(0, 12)} of ${where}: ${why}; the store is damaged, pick another backup`);
  if (!ref.base || !/^[0-9a-f]{64}$/.test(ref.base)) throw bad("a patched piece records no base SHA-256");
  const seen = new Map<number, number>();
  for (const p of ref.patches!) {
    if (!PAGE_SIZES.has(p.size)) throw bad(`a patch of ${p.size} bytes is not a page`);
    if (p.at % p.size !== 0 || p.at + p.size > ref.size) throw bad(`a patch at byte ${p.at} is not a whole page inside the ${ref.size}-byte piece`);
    if (p.length === 0 || p.from + p.length > p.bundle.size) throw bad(`a patch reads bytes ${p.from}..${p.from + p.length} of a ${p.bundle.size}-byte bundle`);
    const times = (seen.get(p.at) ?? 0) + 1;
    if (times > PAGE_CHAIN_LIMIT) throw bad(`the page at byte ${p.at} is patched more than ${PAGE_CHAIN_LIMIT} times`);
    seen.set(p.at, times);
  }
}

const deflateRawAsync = promisify(deflateRaw);

/** Deflate level of a patch's page (a few KiB against its old page as the dictionary: cheap at any level). */
export const PAGE_DEFLATE_LEVEL = 6;

/**
 * A page deflated with the base's page at the same place as its preset dictionary: a changed index or table page is
 * mostly its old bytes, so this stores about a quarter of what gzipping the page alone does (bench: 0.35 vs 1.27 MB a day).
 */
export const deflatePage = (page: Buffer, basePage: Buffer): Promise<Buffer> =>
  deflateRawAsync(page, { level: PAGE_DEFLATE_LEVEL, dictionary: basePage });

/**
 * A patch's page: its bytes in the bundle inflated against the page it replaces as `piece` holds it so far (the base's
 * page, or what an earlier patch of the same page made of it), exactly `size` bytes.
 */
function inflatePage(piece: Buffer, p: PagePatch, bundle: Buffer, where: string): Buffer {
  let page: Buffer;
  try {
    page = inflateRawSync(bundle.subarray(p.from, p.from + p.length), { dictionary: piece.subarray(p.at, p.at + p.size), maxOutputLength: p.size });
  } catch (err) {
    throw new UnsafeArchiveError(`read piece of ${where}: the page patched at byte ${p.at} does not inflate (${(err as Error).message}); the store is damaged, pick another backup`, { cause: err });
  }
  if (page.length !== p.size) throw new UnsafeArchiveError(`read piece of ${where}: the page patched at byte ${p.at} inflates to ${page.length} bytes, not ${p.size}; the store is damaged, pick another backup`);
  return page;
}

const caches = new WeakMap<PackReader, Map<string, Promise<Buffer>>>();

/** A bundle's checked plaintext, shared by the pieces that read the same reader's recent bundles. */
function bundle(reader: PackReader, b: StoredBlob, where: string): Promise<Buffer> {
  let cache = caches.get(reader);
  if (!cache) caches.set(reader, (cache = new Map()));
  const key = `${b.pack}:${b.offset}:${b.length}:${b.sha256}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const p = reader.readStored(b, where).then((stored) => decodeBlob(stored, b, where));
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  while (cache.size > BUNDLE_CACHE) cache.delete(cache.keys().next().value!);
  return p;
}

/**
 * One piece record to its checked plaintext: a plain piece decoded as any blob; a patched one as its base (checked
 * against `base`), each patch's page copied over it in order from its bundle (each bundle checked against its own hash), and the
 * result checked against the piece's `sha256`. Restore, verify, export and the next backup's patching all read this way.
 */
export async function decodeDbPiece(reader: PackReader, ref: BlobRef, where: string): Promise<Buffer> {
  return (await decodeDbPieceWithBase(reader, ref, where)).plain;
}

/** The piece's plaintext and its base's (the same buffer for a plain piece); the writer diffs against the base. */
export async function decodeDbPieceWithBase(reader: PackReader, ref: BlobRef, where: string): Promise<{ plain: Buffer; base: Buffer }> {
  if (!isPatched(ref)) {
    const plain = await reader.read({ ...baseOf(ref) }, where);
    return { plain, base: plain };
  }
  checkPatches(ref, where);
  const b = baseOf(ref);
  const [base, ...pages] = await Promise.all([
    reader.readStored(b, where).then((stored) => decodeBlob(stored, b, where)),
    ...ref.patches!.map((p) => bundle(reader, p.bundle, where)),
  ]);
  const plain = Buffer.from(base!);
  // In order: a later patch of the same page inflates against what the earlier ones made of it (a chain).
  ref.patches!.forEach((p, i) => inflatePage(plain, p, pages[i]!, where).copy(plain, p.at));
  const sha = sha256Hex(plain);
  if (sha !== ref.sha256) {
    throw new ChecksumMismatchError(`read piece ${ref.sha256.slice(0, 12)} of ${where}: its base with its ${ref.patches!.length} patches has SHA-256 ${sha.slice(0, 12)}; the store is damaged, pick another backup`);
  }
  return { plain, base: base! };
}
