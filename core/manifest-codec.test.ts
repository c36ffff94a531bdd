// The manifest codec: gzipped v2 manifests, plain JSON still read, and a bound on what one may unpack to.
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { encodeManifest, isGzipped, manifestJsonText } from "./manifest-codec.ts";
import type { StoredManifestV2 } from "./manifest.ts";

const m = { formatVersion: 2, id: "manual-20261130T000000Z-abcdef", components: {} } as unknown as StoredManifestV2;

describe("manifest codec", () => {
  it("round-trips, and the same manifest always encodes to the same bytes (a retried write compares them)", () => {
    const a = encodeManifest(m);
    expect(isGzipped(a)).toBe(true);
    expect(JSON.parse(manifestJsonText(a))).toEqual(m);
    expect(encodeManifest(structuredClone(m)).equals(a)).toBe(true);
  });

  it("writes exactly JSON.stringify(m, null, 2) plus a newline, though piece by piece", () => {
    const ref = (i: number) => ({ sha256: "ab".repeat(32), size: i, pack: `data/packs/cd/${"cd".repeat(32)}.pack`, offset: i * 7, length: i, encoding: "gzip" });
    const files = Array.from({ length: 50 }, (_, i) => ({ path: `uploads/é/${i}\n"q".jpg`, size: i, blobs: Array.from({ length: i % 4 }, (_, j) => ref(j)), source: { size: i, ino: "7" }, skipped: undefined }));
    const odd = { ...m, components: { uploads: { status: "included", files, empty: [], none: {} } }, list: [1, null, undefined, () => 1, NaN, -0, 1e21, "😀\u2028"], at: new Date(0) };
    const want = gzipSync(JSON.stringify(odd, null, 2) + "\n", { level: 9 });
    expect(encodeManifest(odd as unknown as StoredManifestV2).equals(want)).toBe(true);
  });

  it("reads plain JSON as it is (v1 and older v2 manifests)", () => {
    expect(manifestJsonText(Buffer.from('{"formatVersion":1}'))).toBe('{"formatVersion":1}');
  });

  it("refuses gzip that unpacks past the bound, and says so", () => {
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
    expect(() => manifestJsonText(bomb, 64 * 1024)).toThrow(`it unpacks to more than ${64 * 1024} bytes of JSON`);
    expect(() => manifestJsonText(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2]))).toThrow(/^it is gzip data that does not unpack \(/);
  });
});
