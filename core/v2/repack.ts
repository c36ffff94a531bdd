// Repacking: copies the still-referenced blobs of packs that are mostly garbage into new packs and points manifests at them.
import { randomBytes } from "node:crypto";
import type { CatalogScan } from "../catalog-scan.ts";
import { errorMessage } from "../errors.ts";
import type { StoredBlob } from "../manifest.ts";
import type { ObjectInfo, Storage } from "../storage/storage.ts";
import { sha256Hex, decodeBlob } from "./blob-codec.ts";
import { markBlobs, type Marked, PACK_GRACE_MS, PACK_SUFFIX, PACKS_PREFIX, REPACKED_PREFIX } from "./gc.ts";
import { PackWriter } from "./pack-writer.ts";
import { locationKey, type NewLocation } from "./relocate.ts";
import { rewriteManifest } from "./rewrite-manifest.ts";

/**
 * Unused bytes tolerated after repacking, as a share of all pack bytes (restic prune's --max-unused default, 5%): packs
 * are rewritten, most wasteful first, until what stays unused is below it. Rewriting a pack costs reading it and writing
 * its used part again, so a store need not be garbage-free, only not grow without bound.
 */
export const DEFAULT_MAX_UNUSED = 0.05;
/** Pack bytes one cleanup reads for repacking at most: the cleanup Lambda (512 MB, 5 minutes) must end well inside its timeout, and a day of churn leaves a few MB to repack. */
export const DEFAULT_MAX_REPACK_BYTES = 256 * 1024 * 1024;
/** A pack larger than this is never read whole for repacking (this tool's packs are at most 5 MiB). */
const MAX_PACK_READ = 64 * 1024 * 1024;

export interface RepackOptions {
  /** A scan of the store as it is now (after the removals), or as a dry run's plan leaves it. */
  scan: Pick<CatalogScan, "backups" | "damaged">;
  /** Backups in the scan to treat as already removed (a dry run's plan). */
  exclude?: ReadonlySet<string>;
  now: Date;
  dryRun: boolean;
  maxUnused?: number;
  maxRepackBytes?: number;
  /** The mark of the garbage collection that just ran on the same scan (its sweep deleted only unreferenced packs). */
  marked?: Marked;
}

export interface RepackOutcome {
  /** Why nothing was repacked (a damaged manifest may reference any pack), or null. */
  blockedBy: string | null;
  /** Packs whose used blobs were copied (or would be): a cleanup PACK_GRACE_MS later deletes them. */
  packsRepacked: string[];
  /** Their total size: what deleting them frees. */
  packBytes: number;
  /** Bytes of still-referenced blobs copied into new packs (the cost); packBytes - rewrittenBytes is the gain. */
  rewrittenBytes: number;
  /** Bytes freed once the repacked packs are deleted (packBytes - rewrittenBytes). */
  freeableBytes: number;
  packsWritten: number;
  /** Manifests pointed at the new packs. */
  manifestsRewritten: number;
  /** Packs left whole because a blob in them failed its check (never copied): run verify on the backups using them. */
  damagedPacks: string[];
  /** Steps that failed; what they concern keeps pointing at the old packs, which stay. */
  failures: string[];
}

const empty = (): RepackOutcome => ({ blockedBy: null, packsRepacked: [], packBytes: 0, rewrittenBytes: 0, freeableBytes: 0, packsWritten: 0, manifestsRewritten: 0, damagedPacks: [], failures: [] });

interface Candidate { info: ObjectInfo; used: number; blobs: StoredBlob[] }

/**
 * Rewrites wasteful packs under the store lock: copies each still-referenced blob (checked against its SHA-256 first)
 * into new packs with the pack writer (verified on the way in), writes a repack record naming the old packs, then
 * replaces each manifest that referenced them with one pointing at the copies. The old packs are deleted by a later
 * garbage collection, once the record is PACK_GRACE_MS old and no manifest references them. A crash at any step leaves
 * every manifest pointing at packs that exist: the old ones stay until nothing references them and the grace is over.
 */
export async function repackStore(storage: Storage, opts: RepackOptions): Promise<RepackOutcome> {
  const out = empty();
  if (opts.scan.damaged.length) {
    out.blockedBy = `${opts.scan.damaged.length} damaged manifest(s) may reference any pack; nothing is repacked until each is repaired or removed`;
    return out;
  }
  const packs = (await storage.list(PACKS_PREFIX)).filter((o) => o.key.endsWith(PACK_SUFFIX));
  const ids = opts.scan.backups.filter((b) => b.formatVersion === 2 && !opts.exclude?.has(b.id)).map((b) => b.id);
  const marked = opts.marked ?? (await markBlobs(storage, ids));
  if (typeof marked === "string") {
    out.blockedBy = marked;
    return out;
  }
  const chosen = choosePacks(packs, marked.blobs, opts);
  if (opts.dryRun || !chosen.length) return finish(out, chosen);

  // 1. Copy. A pack with a blob that fails its check is left whole: its damage must not spread into a new pack.
  const writer = new PackWriter(storage);
  const moves = new Map<string, NewLocation>();
  const copies = new Map<string, NewLocation>(); // one copy per stored blob, also when two packs held it
  const done: Candidate[] = [];
  try {
    for (const c of chosen) {
      let bytes: Buffer;
      try {
        bytes = await storage.getBuffer(c.info.key);
        for (const b of c.blobs) await decodeBlob(bytes.subarray(b.offset, b.offset + b.length), b, `pack ${c.info.key}`);
      } catch (err) {
        out.damagedPacks.push(c.info.key);
        out.failures.push(`repack ${c.info.key}: ${errorMessage(err)}; the pack is kept whole`);
        continue;
      }
      for (const b of c.blobs) {
        const same = `${b.sha256}/${b.encoding}/${b.length}`;
        let to = copies.get(same);
        if (!to) copies.set(same, (to = await writer.add(b.sha256, b.size, bytes.subarray(b.offset, b.offset + b.length), b.encoding)));
        moves.set(locationKey(c.info.key, b.offset), to); // the writer fills in pack once the new pack is sealed
      }
      done.push(c);
    }
    await writer.finish();
  } catch (err) {
    await writer.settle();
    out.failures.push(`write new packs: ${errorMessage(err)}; no manifest was changed`);
    return finish(out, []);
  }
  out.packsWritten = writer.stats.packs;
  if (!done.length) return finish(out, []);

  // 2. The record, before any manifest points away: from now on a later gc keeps the old packs for the grace period.
  const oldKeys = done.map((c) => c.info.key);
  const stamp = opts.now.toISOString().replace(/[:.]/g, "-");
  const record = JSON.stringify({ formatVersion: 1, at: opts.now.toISOString(), packs: oldKeys }) + "\n";
  try {
    await storage.put(`${REPACKED_PREFIX}${stamp}-${randomBytes(4).toString("hex")}.json`, record, { ifAbsent: true, sha256: sha256Hex(Buffer.from(record)) });
  } catch (err) {
    out.failures.push(`write the repack record: ${errorMessage(err)}; no manifest was changed`);
    return finish(out, []);
  }

  // 3. Each manifest that used an old pack, replaced whole by one that points at the copies.
  const users = new Set(oldKeys.flatMap((k) => [...(marked.users.get(k) ?? [])]));
  for (const id of [...users].sort()) {
    try {
      if (await rewriteManifest(storage, id, moves)) out.manifestsRewritten++;
    } catch (err) {
      out.failures.push(`point backup ${id} at the repacked blobs: ${errorMessage(err)}; it keeps using the old packs, which stay`);
    }
  }
  return finish(out, done);
}

/** Fills in the pack counts from the packs chosen (a dry run) or really copied. */
function finish(out: RepackOutcome, done: Candidate[]): RepackOutcome {
  out.packsRepacked = done.map((c) => c.info.key);
  out.packBytes = done.reduce((n, c) => n + c.info.size, 0);
  out.rewrittenBytes = done.reduce((n, c) => n + c.used, 0);
  out.freeableBytes = out.packBytes - out.rewrittenBytes;
  return out;
}

/**
 * restic prune's choice: packs partly used, most unused per used byte first, until the unused bytes left are under
 * maxUnused of the used ones (p/(1-p) x used) or the next pack would pass maxRepackBytes. Unlike restic, a small pack
 * gets no priority and small fully used packs are not combined: that saves requests, not space, and each daily backup
 * ends in one, so it would rewrite the last days' manifests over and over. Packs younger than PACK_GRACE_MS are left
 * alone: a backup still running may just have written them.
 */
export function choosePacks(packs: ObjectInfo[], blobs: Map<string, Map<number, StoredBlob>>, opts: Pick<RepackOptions, "now" | "maxUnused" | "maxRepackBytes">): Candidate[] {
  const maxUnused = opts.maxUnused ?? DEFAULT_MAX_UNUSED;
  const maxRepack = opts.maxRepackBytes ?? DEFAULT_MAX_REPACK_BYTES;
  const cutoff = opts.now.getTime() - PACK_GRACE_MS;
  let usedTotal = 0;
  let unusedTotal = 0;
  const candidates: Candidate[] = [];
  for (const p of packs) {
    const used = blobs.get(p.key);
    if (!used) continue; // unreferenced: garbage collection's
    const list = [...used.values()].sort((a, b) => a.offset - b.offset);
    const usedBytes = list.reduce((n, b) => n + b.length, 0);
    usedTotal += usedBytes;
    unusedTotal += Math.max(0, p.size - usedBytes);
    if (usedBytes < p.size && p.modified.getTime() <= cutoff && p.size <= MAX_PACK_READ) candidates.push({ info: p, used: usedBytes, blobs: list });
  }
  // Most unused per used byte first: unused(a)/used(a) > unused(b)/used(b), cross-multiplied.
  candidates.sort((a, b) => (b.info.size - b.used) * a.used - (a.info.size - a.used) * b.used);
  const tolerated = (maxUnused / (1 - maxUnused)) * usedTotal;
  const chosen: Candidate[] = [];
  let read = 0;
  let unusedLeft = unusedTotal;
  for (const c of candidates) {
    if (unusedLeft <= tolerated) break;
    if (read + c.info.size > maxRepack) continue;
    chosen.push(c);
    read += c.info.size;
    unusedLeft -= c.info.size - c.used;
  }
  return chosen;
}
