// Which packs a repack rewrites (choosePacks) and how a manifest's blobs move (relocateManifest), on synthetic data.
import { describe, expect, it } from "vitest";
import type { StoredBlob } from "../manifest.ts";
import type { ObjectInfo } from "../storage/storage.ts";
import { PACK_GRACE_MS } from "./gc.ts";
import { locationKey, relocateManifest } from "./relocate.ts";
import { choosePacks } from "./repack.ts";

const now = new Date("2026-12-07T03:00:00Z");
const old = new Date(now.getTime() - 2 * PACK_GRACE_MS);
const MB = 1_000_000;

/** A pack of `size` bytes whose first `used` bytes are one referenced blob. */
function pack(name: string, size: number, used: number, modified = old) {
  const info: ObjectInfo = { key: `data/packs/${name}.pack`, size, modified, version: "1" };
  const blob: StoredBlob = { sha256: name.padEnd(64, "0"), size: used, pack: info.key, offset: 0, length: used, encoding: "raw" };
  return { info, blobs: used ? new Map([[0, blob]]) : undefined };
}
function choose(packs: ReturnType<typeof pack>[], opts: { maxUnused?: number; maxRepackBytes?: number } = {}) {
  const blobs = new Map(packs.filter((p) => p.blobs).map((p) => [p.info.key, p.blobs!]));
  return choosePacks(packs.map((p) => p.info), blobs, { now, ...opts }).map((c) => c.info.key.slice(11, -5));
}

describe("choosePacks", () => {
  it("takes the most unused per used byte first, and stops once at most maxUnused of the used bytes stay unused", () => {
    // 40 MB used in full packs; a: 3 of 4 MB unused, b: 2 of 4, c: 0.4 of 4.
    const full = Array.from({ length: 10 }, (_, i) => pack(`full${i}`, 4 * MB, 4 * MB));
    const packs = [...full, pack("c", 4 * MB, 3.6 * MB), pack("a", 4 * MB, 1 * MB), pack("b", 4 * MB, 2 * MB)];
    // used 46.6 MB: 5% allows 2.45 MB unused; 5.4 MB are. a brings it to 2.4 MB: enough.
    expect(choose(packs)).toEqual(["a"]);
    // 1% allows 0.47 MB: a, then b (0.4 MB left).
    expect(choose(packs, { maxUnused: 0.01 })).toEqual(["a", "b"]);
    // The bound on bytes read skips what does not fit, and takes a smaller pack that does.
    expect(choose([...full, pack("a", 4 * MB, 1 * MB), pack("b", 2 * MB, 0.5 * MB)], { maxUnused: 0.01, maxRepackBytes: 3 * MB })).toEqual(["b"]);
    expect(choose(packs, { maxRepackBytes: 0 })).toEqual([]);
  });

  it("leaves unreferenced packs to garbage collection and young packs to the backup that may be writing them", () => {
    const young = new Date(now.getTime() - PACK_GRACE_MS / 2);
    expect(choose([pack("gone", 4 * MB, 0), pack("young", 4 * MB, 1 * MB, young), pack("full", 4 * MB, 4 * MB)])).toEqual([]);
  });
});

describe("relocateManifest", () => {
  const manifest = () => ({
    formatVersion: 2,
    components: {
      database: {
        files: [{
          blobs: [
            { sha256: "p1", size: 8, pack: "old", offset: 0, length: 8, encoding: "raw" },
            { sha256: "p2", size: 8, pack: "old", offset: 8, length: 8, encoding: "gzip", base: "b2", patches: [{ at: 0, size: 512, from: 0, length: 4, bundle: { sha256: "u1", size: 32, pack: "old", offset: 16, length: 32, encoding: "raw" } }] },
            { sha256: "p3", size: 8, pack: "kept", offset: 0, length: 8, encoding: "raw" },
          ],
        }],
      },
    },
  });

  it("moves pieces, a patched piece's base and its bundles, and nothing at places not moved", () => {
    const m = manifest();
    const moves = new Map([
      [locationKey("old", 0), { pack: "new", offset: 100, length: 8, encoding: "raw" as const, sha256: "p1" }],
      [locationKey("old", 8), { pack: "new", offset: 108, length: 8, encoding: "gzip" as const, sha256: "b2" }],
      [locationKey("old", 16), { pack: "new2", offset: 0, length: 32, encoding: "raw" as const, sha256: "u1" }],
    ]);
    expect(relocateManifest(m, moves)).toBe(3);
    const [a, b, c] = m.components.database.files[0]!.blobs;
    expect([a!.pack, a!.offset, b!.pack, b!.offset, b!.patches![0]!.bundle.pack, c!.pack]).toEqual(["new", 100, "new", 108, "new2", "kept"]);
  });

  it("refuses a copy whose bytes are not the recorded blob's", () => {
    const moves = new Map([[locationKey("old", 8), { pack: "new", offset: 0, length: 8, encoding: "gzip" as const, sha256: "p2" }]]);
    expect(() => relocateManifest(manifest(), moves)).toThrow(/relocate blob at old@8/); // a patched piece's bytes are its base's (b2)
  });
});
