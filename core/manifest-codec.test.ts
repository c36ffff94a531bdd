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

  it("reads plain JSON as it is (v1 and older v2 manifests)", () => {
    expect(manifestJsonText(Buffer.from('{"formatVersion":1}'))).toBe('{"formatVersion":1}');
  });

  it("refuses gzip that unpacks past the bound, and says so", () => {
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
    expect(() => manifestJsonText(bomb, 64 * 1024)).toThrow(`it unpacks to more than ${64 * 1024} bytes of JSON`);
    expect(() => manifestJsonText(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2]))).toThrow(/^it is gzip data that does not unpack \(/);
  });
});
