// The v2 write path on real files and real worker threads: pieces in order, deterministic stored bytes, a shrinking file caught.
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { FileChangedError } from "../archive/write.ts";
import type { FileEntryV2 } from "../manifest.ts";
import { FsStorage } from "../storage/fs-storage.ts";
import type { ObjectInfo, PutOptions } from "../storage/storage.ts";
import { MemoryStorage } from "../storage/memory-storage.ts";
import { CHUNK_SIZE, GZIP_LEVEL, GZIP_MEM_LEVEL, decodeBlob } from "./blob-codec.ts";
import { BlobStore, identify } from "./blob-store.ts";
import { ByteBudget, mapInOrder } from "./bounded.ts";
import { CompressPool } from "./compress-pool.ts";
import { CountingStorage } from "./counting-storage.ts";
import { PackWriter } from "./pack-writer.ts";

const dir = mkdtempSync(path.join(tmpdir(), "v2-blob-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const text = (n: number, seed: string) => Buffer.from(Array.from({ length: Math.ceil(n / 20) }, (_, i) => `${seed} line ${i} of a document\n`).join("")).subarray(0, n);

/** Stores `files` into a fresh memory store; returns each record and the stored bytes of each blob. */
async function storeAll(files: Record<string, Buffer>) {
  const storage = new MemoryStorage();
  const packs = new PackWriter(storage);
  const pool = new CompressPool(2);
  try {
    const blobs = new BlobStore(new Map(), packs, pool);
    const names = Object.keys(files);
    for (const n of names) writeFileSync(path.join(dir, n), files[n]!);
    const records = await mapInOrder(names, 4, async (n) => blobs.store({ entry: `uploads/${n}`, file: path.join(dir, n) }, await identify(path.join(dir, n))));
    await packs.finish();
    const stored = new Map<string, Buffer>();
    for (const r of records) {
      for (const b of r.blobs) stored.set(b.sha256, (await storage.getBuffer(b.pack)).subarray(b.offset, b.offset + b.length));
    }
    return { records, stored };
  } finally {
    await pool.close();
  }
}

async function content(r: FileEntryV2, stored: Map<string, Buffer>): Promise<Buffer> {
  return Buffer.concat(await Promise.all(r.blobs.map((b) => decodeBlob(stored.get(b.sha256)!, b, r.path))));
}

describe("BlobStore with the compression pool", () => {
  const files = {
    "big.csv": text(2 * CHUNK_SIZE + 12345, "big"),
    "photo.jpg": randomBytes(300_000),
    "blob.bin": randomBytes(200_000), // no telling name: entropy and a trial deflate say raw
    "noise.csv": randomBytes(150_000), // a text name is gzipped outright, but a piece deflate cannot shrink is stored raw
    "note.md": text(70_000, "note"),
    "tiny.txt": Buffer.from("hi\n"),
    "empty.txt": Buffer.alloc(0),
  };

  it("records every file in order with its SHA-256, pieces in file order, and text gzipped at the set level", async () => {
    const { records, stored } = await storeAll(files);
    expect(records.map((r) => r.path)).toEqual(Object.keys(files).map((n) => `uploads/${n}`));
    for (const r of records) {
      const plain = files[r.path.slice("uploads/".length) as keyof typeof files];
      expect(r.sha256).toBe(sha(plain));
      expect(r.size).toBe(plain.length);
      expect((await content(r, stored)).equals(plain)).toBe(true);
    }
    const enc = Object.fromEntries(records.map((r) => [r.path, [...new Set(r.blobs.map((b) => b.encoding))]]));
    expect(enc).toMatchObject({ "uploads/big.csv": ["gzip"], "uploads/photo.jpg": ["raw"], "uploads/blob.bin": ["raw"], "uploads/noise.csv": ["raw"], "uploads/note.md": ["gzip"] });
    const big = records[0]!;
    expect(big.blobs).toHaveLength(3);
    const firstPiece = files["big.csv"].subarray(0, CHUNK_SIZE);
    expect(stored.get(big.blobs[0]!.sha256)!.equals(gzipSync(firstPiece, { level: GZIP_LEVEL, memLevel: GZIP_MEM_LEVEL }))).toBe(true);
  });

  it("stores the same bytes for the same plaintext, whatever order the threads finish in", async () => {
    const a = await storeAll(files);
    const b = await storeAll(Object.fromEntries(Object.entries(files).reverse()));
    expect(b.stored.size).toBe(a.stored.size);
    for (const [k, v] of a.stored) expect(b.stored.get(k)?.equals(v)).toBe(true);
  });

  it("fails with FileChangedError when a file shrinks between its stat and its read, after its pieces settle", async () => {
    const file = path.join(dir, "shrinks.log");
    writeFileSync(file, text(3 * CHUNK_SIZE, "log"));
    const id = await identify(file);
    truncateSync(file, CHUNK_SIZE + 10);
    const pool = new CompressPool(2);
    try {
      const blobs = new BlobStore(new Map(), new PackWriter(new MemoryStorage()), pool);
      await expect(blobs.store({ entry: "uploads/shrinks.log", file }, id)).rejects.toBeInstanceOf(FileChangedError);
    } finally {
      await pool.close();
    }
  });
});

describe("BlobStore over pieces already stored", () => {
  /** A pool that counts the pieces and trials sent to its threads. */
  class CountingPool extends CompressPool {
    sent = 0;
    override encode(...args: Parameters<CompressPool["encode"]>) {
      this.sent++;
      return super.encode(...args);
    }
  }

  it("sends nothing to the compression threads for a file whose pieces are all known, and decides a later new piece's encoding from it", async () => {
    const noise = randomBytes(CHUNK_SIZE + 200_000); // no telling name, high entropy: a new first piece costs a trial deflate
    const first = path.join(dir, "noise-a.bin");
    writeFileSync(first, noise);
    const storage = new MemoryStorage();
    const pool = new CountingPool(2);
    try {
      const packs = new PackWriter(storage);
      const before = await new BlobStore(new Map(), packs, pool).store({ entry: "uploads/noise-a.bin", file: first }, await identify(first));
      await packs.finish();
      expect(pool.sent).toBe(1); // the trial; both pieces raw
      const known = new Map(before.blobs.map((b) => [b.sha256, b]));
      // A copy (a new inode, as in a restore's pre-restore backup): every piece known, nothing deflated.
      const copy = path.join(dir, "noise-copy.bin");
      writeFileSync(copy, noise);
      pool.sent = 0;
      const again = await new BlobStore(known, new PackWriter(storage), pool).store({ entry: "uploads/noise-copy.bin", file: copy }, await identify(copy));
      expect(pool.sent).toBe(0);
      expect(again.blobs).toEqual(before.blobs);
      // The first piece known, the second new text: its encoding comes from the new piece, not the random first one.
      const mixed = path.join(dir, "mixed.bin");
      const tail = text(300_000, "tail");
      writeFileSync(mixed, Buffer.concat([noise.subarray(0, CHUNK_SIZE), tail]));
      const packs2 = new PackWriter(storage);
      const m = await new BlobStore(known, packs2, pool).store({ entry: "uploads/mixed.bin", file: mixed }, await identify(mixed));
      await packs2.finish();
      expect(m.blobs[0]).toEqual(before.blobs[0]);
      expect(m.blobs[1]).toMatchObject({ sha256: sha(tail), encoding: "gzip" });
    } finally {
      await pool.close();
    }
  });
});

describe("BlobStore with small pieces (the database's)", () => {
  it("cuts a file read a MiB at a time into 32 KiB pieces, each its own blob, and notices a shrink past the first MiB", async () => {
    const file = path.join(dir, "pages.db");
    const plain = Buffer.concat([text(CHUNK_SIZE + 40_000, "page"), randomBytes(CHUNK_SIZE), text(12_345, "tail")]);
    writeFileSync(file, plain);
    const storage = new MemoryStorage();
    const packs = new PackWriter(storage);
    const pool = new CompressPool(2);
    try {
      const blobs = new BlobStore(new Map(), packs, pool);
      const piece = 32 * 1024;
      const r = await blobs.store({ entry: "database/dev.db", file }, await identify(file), file, piece);
      await packs.finish();
      expect(r.blobs).toHaveLength(Math.ceil(plain.length / piece));
      r.blobs.forEach((b, i) => expect(b.sha256).toBe(sha(plain.subarray(i * piece, (i + 1) * piece))));
      const stored = new Map(await Promise.all(r.blobs.map(async (b) => [b.sha256, (await storage.getBuffer(b.pack)).subarray(b.offset, b.offset + b.length)] as const)));
      expect((await content(r, stored)).equals(plain)).toBe(true);
      expect(r.sha256).toBe(sha(plain));
      const id = await identify(file);
      truncateSync(file, CHUNK_SIZE + 100);
      await expect(blobs.store({ entry: "database/dev.db", file }, id, file, piece)).rejects.toBeInstanceOf(FileChangedError);
    } finally {
      await pool.close();
    }
  });
});

describe("bounds", () => {
  it("ByteBudget holds a request until enough is released, first come first served, and lets an oversized one through alone", async () => {
    const budget = new ByteBudget(10);
    const order: string[] = [];
    await budget.acquire(6);
    const big = budget.acquire(20).then(() => order.push("big"));
    const small = budget.acquire(1).then(() => order.push("small"));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    budget.release(6);
    await big;
    expect(order).toEqual(["big"]);
    budget.release(20);
    await small;
    expect(order).toEqual(["big", "small"]);
  });

  it("mapInOrder keeps item order, starts nothing after a failure and throws once the started items settle", async () => {
    const started: number[] = [];
    let settled = 0;
    const run = mapInOrder([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      await new Promise((r) => setTimeout(r, n === 2 ? 1 : 20));
      settled++;
      if (n === 2) throw new Error("two failed");
      return n * 10;
    });
    await expect(run).rejects.toThrow("two failed");
    expect(settled).toBe(started.length);
    expect(started).not.toContain(6);
    expect(await mapInOrder([3, 1, 2], 3, async (n) => { await new Promise((r) => setTimeout(r, n)); return n; })).toEqual([3, 1, 2]);
  });
});

describe("PackWriter's read-back", () => {
  /** A disk that keeps one byte of every pack wrong, and one that drops the last byte. */
  class Damaging extends MemoryStorage {
    constructor(private readonly how: "flip" | "short") {
      super();
    }
    override async getBuffer(key: string): Promise<Buffer> {
      const b = Buffer.from(await super.getBuffer(key));
      if (!key.endsWith(".pack")) return b;
      if (this.how === "short") return b.subarray(0, b.length - 1);
      b[b.length >> 1]! ^= 0x01;
      return b;
    }
  }

  it.each(["flip", "short"] as const)("fails the backup when a pack reads back different from what was written (%s)", async (how) => {
    const storage = new Damaging(how);
    const packs = new PackWriter(storage);
    await packs.add(sha(Buffer.from("piece")), 5, Buffer.from("piece"), "raw");
    await expect(packs.finish()).rejects.toThrow(/verify stored pack .* differ from the 5 written/);
  });

  /** A filesystem store whose disk spoils each pack right after it is written (read back through openFile). */
  class DamagingDisk extends FsStorage {
    constructor(root: string, private readonly how: "flip" | "short" | "long") {
      super(root);
    }
    override async put(key: string, body: Buffer, opts?: PutOptions): Promise<ObjectInfo> {
      const info = await super.put(key, body, opts);
      const file = path.join(this.root, key);
      if (this.how === "short") truncateSync(file, body.length - 1);
      else if (this.how === "long") appendFileSync(file, "x");
      else {
        const b = readFileSync(file);
        b[b.length - 3]! ^= 0x01;
        writeFileSync(file, b);
      }
      return info;
    }
  }

  it.each([["flip", /bytes read back at offset 1048576 differ/], ["short", /read back \d+ bytes of the \d+ written/], ["long", /read back more than the \d+ bytes/]] as const)(
    "fails the backup when a pack on disk reads back different, in pieces into a reused buffer (%s)", async (how, message) => {
      const root = mkdtempSync(path.join(dir, "disk-"));
      const packs = new PackWriter(new CountingStorage(new DamagingDisk(root, how)));
      // Over a MiB, so the read-back takes more than one read.
      const piece = randomBytes(1536 * 1024);
      await packs.add(sha(piece), piece.length, piece, "raw");
      await expect(packs.finish()).rejects.toThrow(message);
    });

  it("passes packs on disk that read back the same, reusing its read buffer", async () => {
    const storage = new CountingStorage(new FsStorage(mkdtempSync(path.join(dir, "disk-"))));
    expect(storage.openFile).toBeTypeOf("function");
    const packs = new PackWriter(storage);
    for (let i = 0; i < 6; i++) {
      const piece = randomBytes(1024 * 1024 - i);
      await packs.add(sha(piece), piece.length, piece, "raw");
    }
    await expect(packs.finish()).resolves.toBeUndefined();
    expect(packs.stats.packs).toBe(2);
  });

  it("passes a pack that reads back the same", async () => {
    const packs = new PackWriter(new MemoryStorage());
    await packs.add(sha(Buffer.from("piece")), 5, Buffer.from("piece"), "raw");
    await expect(packs.finish()).resolves.toBeUndefined();
  });
});
