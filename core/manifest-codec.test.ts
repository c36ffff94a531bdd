// The manifest codec: gzipped compact v2 manifests that decode to exactly the record written, every older form still
// read (plain JSON, gzipped full JSON), and a bound on what one may unpack to.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { checkManifest } from "./catalog-scan.ts";
import { MANIFEST_GZIP_LEVEL, decodeManifest, encodeManifest, encodeManifestStreamed, isGzipped, manifestJsonText, manifestText } from "./manifest-codec.ts";
import { ManifestV2Schema, type BlobRef, type FileEntryV2, type StoredManifestV2 } from "./manifest.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const pack = (n: number) => `data/packs/${sha(`pack ${n}`).slice(0, 2)}/${sha(`pack ${n}`)}.pack`;
const ref = (name: string, size: number, p: number, offset: number): BlobRef => ({ sha256: sha(name), size, pack: pack(p), offset, length: Math.ceil(size / 2), encoding: "gzip" });
const NS = "1796600120137401675"; // 2026-12-06T23:35:20.137Z
const src = (size: number, over: Partial<NonNullable<FileEntryV2["source"]>> = {}) => ({ size, mtimeNs: NS, ctimeNs: NS, ino: "5890799", ...over });

/** A manifest with every case the compact form treats differently. */
function manifest(): StoredManifestV2 {
  const files: FileEntryV2[] = [
    // one piece, everything derivable: sha256 and size of the piece, mtime, source size and ctime are left out
    { path: "uploads/a.pdf", size: 100, sha256: sha("piece a"), mode: 0o644, mtime: "2026-12-06T23:35:20.137Z", blobs: [ref("piece a", 100, 0, 0)], source: src(100) },
    // nothing derivable: an mtime other than the source's, a source grown since, a ctime of its own
    { path: "uploads/b.txt", size: 50, sha256: sha("piece b"), mode: 0o600, mtime: "2026-01-01T00:00:00.000Z", blobs: [{ ...ref("piece b", 50, 1, 7), encoding: "raw" }], source: src(60, { ctimeNs: "1796601181231220411" }) },
    // a single piece that is not the whole file's hash (cannot happen today, must still round-trip)
    { path: "uploads/c.bin", size: 10, sha256: sha("file c"), mode: 0o644, mtime: "2026-12-06T23:35:20.137Z", blobs: [ref("piece c", 9, 0, 100)], source: src(10) },
    // empty file, no pieces; and one with a source but no mtime
    { path: "uploads/empty", size: 0, sha256: sha(""), mode: 0o644, mtime: "2026-12-06T23:35:20.137Z", blobs: [], source: src(0) },
    { path: "uploads/no-mtime", size: 5, sha256: sha("piece d"), mode: 0o644, blobs: [ref("piece d", 5, 2, 0)], source: src(5) },
    // two pieces: each keeps its own hash and size
    { path: "uploads/big.bin", size: 2_000_000, sha256: sha("file big"), mode: 0o644, mtime: "2026-12-06T23:35:20.137Z", blobs: [ref("big 1", 1_048_576, 1, 200), ref("big 2", 951_424, 2, 9)], source: src(2_000_000) },
  ];
  const db: FileEntryV2 = { path: "database/dev.db", size: 98_304, sha256: sha("db"), mode: 0o644, mtime: "2026-12-06T23:35:21.000Z", blobs: [0, 1, 2].map((i) => ref(`db ${i}`, 32_768, i % 2, i * 1000)) };
  const log: FileEntryV2 = { path: "logs/app.log.gz", size: 30, sha256: sha("log"), mode: 0o644, mtime: "2026-12-06T23:35:20.137Z", originalSize: 300, blobs: [ref("log", 30, 0, 500)], source: src(300) };
  const component = (list: FileEntryV2[]) => ({ status: "included" as const, fileCount: list.length, totalSize: list.reduce((n, f) => n + f.size, 0), files: list });
  return {
    formatVersion: 2, tool: "colab-backup 0.1.0", id: "manual-20261206T233520Z-abcdef", name: "crm", type: "manual", description: "", createdAt: "2026-12-06T23:35:20.000Z", host: "h",
    components: { database: component([db]), uploads: component(files), logs: component([log]) },
    stored: { referencedBytes: 1, referencedBlobs: 1, bytesAdded: 1, blobsAdded: 1, packsAdded: 1, requests: 1, filesRead: 1, filesReused: 0, verifiedAt: "2026-12-06T23:35:22.000Z" },
  };
}

/** What every reader gets: the decoded JSON through the schema, as checkManifest does (fields in the schema's order). */
const readBack = (raw: Buffer) => JSON.stringify(ManifestV2Schema.parse(decodeManifest(raw)));
/** The same for the manifest as written: what a reader of today's full JSON gets. */
const asRead = (m: StoredManifestV2) => JSON.stringify(ManifestV2Schema.parse(JSON.parse(JSON.stringify(m))));

describe("manifest codec", () => {
  it("decodes the compact form to exactly the manifest written, and the same manifest always encodes to the same bytes", () => {
    const m = manifest();
    const a = encodeManifest(m);
    expect(isGzipped(a)).toBe(true);
    expect(readBack(a)).toBe(asRead(m)); // same fields, values and order
    expect(encodeManifest(structuredClone(m)).equals(a)).toBe(true);
    const checked = checkManifest(a, m.id);
    expect("manifest" in checked && checked.manifest).toEqual(m);
  });

  it("writes exactly manifestText (JSON.stringify of the compact form, pretty) though piece by piece", async () => {
    const m = manifest();
    const ref = (i: number) => ({ sha256: "ab".repeat(32), size: i, pack: `data/packs/cd/${"cd".repeat(32)}.pack`, offset: i * 7, length: i, encoding: "gzip" });
    const files = Array.from({ length: 50 }, (_, i) => ({ path: `uploads/é/${i}\n"q".jpg`, size: i, blobs: Array.from({ length: i % 4 }, (_, j) => ref(j)), source: { size: i, ino: "7" }, skipped: undefined }));
    const odd = { ...m, components: { uploads: { status: "included", files, empty: [], none: {} } }, list: [1, null, undefined, () => 1, NaN, -0, 1e21, "😀\u2028"], at: new Date(0) };
    const want = gzipSync(manifestText(odd as unknown as StoredManifestV2), { level: MANIFEST_GZIP_LEVEL });
    expect(encodeManifest(odd as unknown as StoredManifestV2).equals(want)).toBe(true);
    expect(encodeManifest(m).equals(gzipSync(manifestText(m), { level: MANIFEST_GZIP_LEVEL }))).toBe(true);
    expect((await encodeManifestStreamed(odd as unknown as StoredManifestV2)).equals(want)).toBe(true);
    expect((await encodeManifestStreamed(m)).equals(encodeManifest(m))).toBe(true);
  });

  it("streams the gzip of a manifest of many text batches to the same bytes as the whole text gzipped", async () => {
    const m = manifest();
    // ~3,000 records of ~300 bytes with multi-byte names: many of encodeManifestStreamed's 64 KiB batches.
    const files = Array.from({ length: 3000 }, (_, i) => ({
      path: `uploads/dossier-é-${i}/😀-${i}.txt`, size: i, mode: 0o644, mtime: new Date(i * 1000).toISOString(), sha256: (i % 256).toString(16).padStart(2, "0").repeat(32),
      blobs: [{ sha256: "ab".repeat(32), size: i, pack: `data/packs/${(i % 7).toString(16).padStart(2, "0")}/${"cd".repeat(32)}.pack`, offset: i * 7, length: i, encoding: "gzip" }],
    }));
    const big = { ...m, components: { ...m.components, uploads: { status: "included", fileCount: files.length, totalSize: 0, files } } } as unknown as StoredManifestV2;
    const want = gzipSync(manifestText(big), { level: MANIFEST_GZIP_LEVEL });
    expect(manifestText(big).length).toBeGreaterThan(10 * 64 * 1024);
    expect((await encodeManifestStreamed(big)).equals(want)).toBe(true);
    expect(readBack(await encodeManifestStreamed(big))).toBe(asRead(big));
  });

  it("writes each pack name once and leaves out only what decoding rebuilds", () => {
    const m = manifest();
    const text = manifestText(m);
    const json = JSON.parse(text);
    expect(json.packs).toEqual([pack(0), pack(1), pack(2)]);
    for (const p of json.packs) expect(text.split(p)).toHaveLength(2);
    const [a, b, c, , noMtime, big] = json.components.uploads.files;
    expect(a).not.toHaveProperty("mtime");
    expect(a.blobs).toEqual([{ pack: 0, offset: 0, length: 50, encoding: "gzip" }]);
    expect(a.source).toEqual({ mtimeNs: NS, ino: "5890799" });
    expect(b.mtime).toBe("2026-01-01T00:00:00.000Z");
    expect(b.source).toEqual(m.components.uploads!.files[1]!.source);
    expect(c.blobs[0]).toMatchObject({ sha256: sha("piece c"), size: 9 });
    expect(noMtime.mtime).toBeNull();
    expect(big.blobs.map((x: BlobRef) => [x.sha256, x.size, x.pack])).toEqual([[sha("big 1"), 1_048_576, 1], [sha("big 2"), 951_424, 2]]);
    expect(json.components.database.files[0].mtime).toBe("2026-12-06T23:35:21.000Z"); // no source: kept
    expect(text).toContain('\n  "formatVersion": 2,\n'); // pretty-printed: readable once unpacked
    expect(text.length).toBeLessThan(JSON.stringify(m, null, 2).length);
  });

  it("reads every older form as it was written: plain JSON (v1, first v2) and gzipped full JSON", () => {
    const m = manifest();
    const full = JSON.stringify(m, null, 2) + "\n";
    expect(readBack(Buffer.from(full))).toBe(asRead(m));
    expect(readBack(gzipSync(full))).toBe(asRead(m));
    expect(manifestJsonText(Buffer.from('{"formatVersion":1}'))).toBe('{"formatVersion":1}');
    expect(decodeManifest(Buffer.from('{"formatVersion":1,"packs":[1]}'))).toEqual({ formatVersion: 1, packs: [1] }); // only v2 has the form
  });

  it("calls a manifest whose pack table does not fit damaged, and says where", () => {
    const m = manifest();
    const json = JSON.parse(manifestText(m));
    json.components.uploads.files[1].blobs[0].pack = 3;
    expect(checkManifest(Buffer.from(JSON.stringify(json)), m.id)).toEqual({ reason: 'components.uploads.files.1.blobs.0: it names pack 3 of a 3-entry "packs" table' });
    json.components.uploads.files[1].blobs[0].pack = 0.5;
    expect(checkManifest(Buffer.from(JSON.stringify(json)), m.id)).toMatchObject({ reason: expect.stringMatching(/names pack 0.5 of/) });
    json.components.uploads.files[1].blobs[0].pack = 1;
    json.packs[2] = 7;
    expect(checkManifest(Buffer.from(JSON.stringify(json)), m.id)).toEqual({ reason: 'its "packs" table holds something other than pack names' });
    json.packs[2] = "data/packs/../../etc/passwd";
    expect(checkManifest(Buffer.from(JSON.stringify(json)), m.id)).toMatchObject({ reason: expect.stringMatching(/does not match the manifest schema/) });
  });

  it("refuses gzip that unpacks past the bound, and says so", () => {
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
    expect(() => manifestJsonText(bomb, 64 * 1024)).toThrow(`it unpacks to more than ${64 * 1024} bytes of JSON`);
    expect(() => manifestJsonText(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2]))).toThrow(/^it is gzip data that does not unpack \(/);
  });
});
