// Garbage collection of v2 packs: marks the packs that remaining manifests reference, sweeps the others once they are old enough.
import { readManifest } from "../catalog.ts";
import type { CatalogScan } from "../catalog-scan.ts";
import { errorMessage } from "../errors.ts";
import type { StoredBlob } from "../manifest.ts";
import type { ObjectInfo, Storage } from "../storage/storage.ts";
import { storedBlobs } from "./db-pieces.ts";

/**
 * A pack modified less than this long ago is never deleted. Cleanup and delete hold the store lock, which keeps
 * backups out, but a lock can be taken over once its holder stops heartbeating (DEFAULT_LOCK_TTL_MS, 10 minutes):
 * a run that was only paused (a frozen Lambda, a suspended laptop) may then still upload packs and write the
 * manifest that references them. Packs are uploaded shortly before their manifest, so an hour, six lock lifetimes,
 * is far past any such gap; an unreferenced pack costs a day's storage at worst, a deleted referenced one a backup.
 */
export const PACK_GRACE_MS = 60 * 60 * 1000;
export const PACKS_PREFIX = "data/packs/";
export const PACK_SUFFIX = ".pack";
/**
 * Repack records (core/v2/repack.ts): each names the packs whose blobs a repack copied, written before the first
 * manifest was pointed away from them. A pack a record names is not deleted until the record is PACK_GRACE_MS old, for
 * the same reason young packs are kept: a backup that read its index before the repack may still write a manifest that
 * references the old places. Records older than that are deleted by the sweep.
 */
export const REPACKED_PREFIX = "data/repacked/";
/** Manifests read at once while marking: bounded like the catalog scan, since S3 connections and memory are finite. */
const READS = 8;

export interface PackGcOutcome {
  /** Why no pack was deleted at all (a damaged manifest may reference any of them), or null. */
  blockedBy: string | null;
  /** Packs deleted (or, in a dry run, that would be). */
  packsRemoved: string[];
  /** Their total size: the bytes garbage collection frees. */
  freedBytes: number;
  /** Unreferenced packs kept because they are younger than PACK_GRACE_MS. */
  packsKeptYoung: number;
  /** Unreferenced packs kept because a repack record younger than PACK_GRACE_MS names them (deleted by a later cleanup). */
  packsKeptRepacked: number;
  /** Packs that remaining backups still reference. */
  packsReferenced: number;
  /** Referenced packs that also hold blobs no backup needs any more (repack.ts rewrites those worth it). */
  partlyReferenced: { packs: number; unreferencedBytes: number };
  /** Packs whose delete failed; the next cleanup tries again. */
  failures: string[];
}

const empty = (): PackGcOutcome => ({ blockedBy: null, packsRemoved: [], freedBytes: 0, packsKeptYoung: 0, packsKeptRepacked: 0, packsReferenced: 0, partlyReferenced: { packs: 0, unreferencedBytes: 0 }, failures: [] });

export interface GcOptions {
  /** A scan of the store taken after (or, for a dry run, planning) the manifests' removal. */
  scan: Pick<CatalogScan, "backups" | "damaged">;
  /** Backups in the scan to treat as already removed (a dry run's plan). */
  exclude?: ReadonlySet<string>;
  now: Date;
  dryRun: boolean;
  /** Receives the mark (what the remaining manifests reference), so a repack after the sweep need not read them again. */
  onMarked?: (marked: Marked) => void;
}

/**
 * Deletes the packs no remaining manifest references. Call it under the store lock. Deletes nothing when any
 * manifest is damaged or a remaining manifest cannot be read: what those reference is unknown.
 */
export async function collectGarbage(storage: Storage, opts: GcOptions): Promise<PackGcOutcome> {
  const out = empty();
  // Listed before the manifests are read: a pack written after this listing is never a candidate.
  const packs = (await storage.list(PACKS_PREFIX)).filter((o) => o.key.endsWith(PACK_SUFFIX));
  if (!packs.length) return out;
  if (opts.scan.damaged.length) {
    const keys = opts.scan.damaged.map((d) => d.key);
    out.blockedBy = `${keys.length} damaged manifest(s) (${keys.slice(0, 3).join(", ")}${keys.length > 3 ? ", ..." : ""}) may reference any pack; no pack is deleted until each is repaired or removed with \`colab-backup delete <id>\``;
    return out;
  }
  const ids = opts.scan.backups.filter((b) => b.formatVersion === 2 && !opts.exclude?.has(b.id)).map((b) => b.id);
  const marked = await markBlobs(storage, ids);
  if (typeof marked === "string") {
    out.blockedBy = marked;
    return out;
  }
  opts.onMarked?.(marked);
  const cutoff = opts.now.getTime() - PACK_GRACE_MS;
  const repacked = await recentlyRepacked(storage, cutoff);
  const sweep: ObjectInfo[] = [];
  for (const p of packs) {
    const used = marked.blobs.get(p.key);
    if (used) {
      out.packsReferenced++;
      const usedBytes = [...used.values()].reduce((n, b) => n + b.length, 0);
      if (usedBytes < p.size) {
        out.partlyReferenced.packs++;
        out.partlyReferenced.unreferencedBytes += p.size - usedBytes;
      }
    } else if (p.modified.getTime() > cutoff) out.packsKeptYoung++;
    else if (repacked.all || repacked.packs.has(p.key)) out.packsKeptRepacked++;
    else sweep.push(p);
  }
  for (const p of sweep) {
    if (!opts.dryRun) {
      try {
        await storage.delete(p.key);
      } catch (err) {
        out.failures.push(`delete ${p.key}: ${errorMessage(err)}`);
        continue;
      }
    }
    out.packsRemoved.push(p.key);
    out.freedBytes += p.size;
  }
  // Past their grace, records protect nothing: whatever they named is now either swept or referenced again.
  if (!opts.dryRun) for (const r of repacked.expired) await storage.delete(r).catch((err) => out.failures.push(`delete ${r}: ${errorMessage(err)}`));
  return out;
}

/**
 * The packs repack records younger than `cutoff` name (all: a young record could not be read, so any unreferenced pack
 * may be one of them), and the keys of records older than it. The record's listed time, not its content, says when.
 */
async function recentlyRepacked(storage: Storage, cutoff: number): Promise<{ packs: Set<string>; all: boolean; expired: string[] }> {
  const out = { packs: new Set<string>(), all: false, expired: [] as string[] };
  for (const r of await storage.list(REPACKED_PREFIX)) {
    if (r.modified.getTime() <= cutoff) {
      out.expired.push(r.key);
      continue;
    }
    try {
      const record = JSON.parse((await storage.getBuffer(r.key)).toString("utf8")) as { packs?: unknown };
      if (!Array.isArray(record.packs) || !record.packs.every((k) => typeof k === "string")) throw new Error("no list of packs");
      for (const k of record.packs) out.packs.add(k);
    } catch {
      out.all = true;
    }
  }
  return out;
}

/** What the remaining manifests reference: each pack's blobs by offset, and which backups reference each pack. */
export interface Marked {
  blobs: Map<string, Map<number, StoredBlob>>;
  users: Map<string, Set<string>>;
}

/** Every blob the given manifests reference, by pack, or why they could not all be read. */
export async function markBlobs(storage: Storage, ids: string[]): Promise<Marked | string> {
  const refs = new Map<string, Map<number, StoredBlob>>();
  const users = new Map<string, Set<string>>();
  let failure: string | null = null;
  let next = 0;
  const worker = async () => {
    while (next < ids.length && !failure) {
      const id = ids[next++]!;
      try {
        const m = await readManifest(storage, id);
        if (m.formatVersion !== 2) continue;
        for (const c of Object.values(m.components)) {
          for (const f of c.files) {
            // A patched database piece needs its base and every page bundle it reads.
            for (const b of f.blobs.flatMap(storedBlobs)) {
              let offsets = refs.get(b.pack);
              if (!offsets) {
                refs.set(b.pack, (offsets = new Map()));
                users.set(b.pack, new Set());
              }
              offsets.set(b.offset, { sha256: b.sha256, size: b.size, pack: b.pack, offset: b.offset, length: b.length, encoding: b.encoding });
              users.get(b.pack)!.add(id);
            }
          }
        }
      } catch (err) {
        failure ??= `read manifest of backup ${id} to see which packs it needs: ${errorMessage(err)}; no pack is deleted`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READS, ids.length) }, worker));
  return failure ?? { blobs: refs, users };
}
