// The compression pool on real worker threads: zlib's exact bytes, raw when deflate does not shrink, transfer and close.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GZIP_MEM_LEVEL } from "./blob-codec.ts";
import { CompressPool } from "./compress-pool.ts";

let pool: CompressPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

const own = (b: Buffer) => {
  const o = Buffer.from(new ArrayBuffer(b.length));
  b.copy(o);
  return o;
};

describe("CompressPool", () => {
  it("returns exactly gzipSync's member for many pieces at once, in any finishing order", async () => {
    pool = new CompressPool(2);
    const pieces = Array.from({ length: 12 }, (_, i) => Buffer.from(`piece ${i} `.repeat(2000 + i * 500)));
    const out = await Promise.all(pieces.map((p) => pool!.encode(p, 3)));
    out.forEach((o, i) => {
      expect(o.encoding).toBe("gzip");
      expect(o.stored.equals(gzipSync(pieces[i]!, { level: 3, memLevel: GZIP_MEM_LEVEL }))).toBe(true);
    });
  });

  it("sends queued small pieces to a thread in batches, each piece back in its own buffer, raw ones and urgent ones too", async () => {
    pool = new CompressPool(2);
    const sent = vi.spyOn(Worker.prototype, "postMessage");
    try {
      // 32 KiB pieces, as the database's: text, and every seventh one noise that deflate cannot shrink.
      const pieces = Array.from({ length: 300 }, (_, i) => (i % 7 === 3 ? randomBytes(32768) : Buffer.from(`row ${i} `.repeat(8192).slice(0, 32768))));
      const copies = pieces.map((p) => Buffer.from(p));
      const trial = Buffer.from("trial ".repeat(10_000));
      const all = pieces.map((p) => pool!.encode(own(p), 4, { transfer: true }));
      const urgent = pool.encode(trial, 1, { orRaw: false, urgent: true });
      const out = await Promise.all(all);
      out.forEach((o, i) => {
        const raw = i % 7 === 3;
        expect(o.encoding).toBe(raw ? "raw" : "gzip");
        expect(o.stored.equals(raw ? copies[i]! : gzipSync(copies[i]!, { level: 4, memLevel: GZIP_MEM_LEVEL }))).toBe(true);
        expect(o.stored.byteOffset).toBe(0);
        expect(o.stored.buffer.byteLength).toBe(32768); // its own plaintext's buffer, whatever else travelled with it
      });
      expect((await urgent).stored.equals(gzipSync(trial, { level: 1 }))).toBe(true);
      // 301 tasks: far fewer messages, at most 1 MiB (32 pieces) each, but more than one thread's worth.
      expect(sent.mock.calls.length).toBeLessThan(60);
      expect(sent.mock.calls.length).toBeGreaterThanOrEqual(10);
    } finally {
      sent.mockRestore();
    }
  });

  it("moves a transferred buffer to the worker and brings the member back in that same buffer", async () => {
    pool = new CompressPool(1);
    const plain = own(Buffer.from("abc ".repeat(50_000)));
    const expected = gzipSync(Buffer.from("abc ".repeat(50_000)), { level: 3, memLevel: GZIP_MEM_LEVEL });
    const out = await pool.encode(plain, 3, { transfer: true });
    expect(plain.length).toBe(0); // detached: the caller's view is gone
    expect(out.stored.equals(expected)).toBe(true);
    expect(out.stored.byteOffset).toBe(0);
    expect(out.stored.buffer.byteLength).toBe(200_000); // the plaintext's own ArrayBuffer, back from the worker
  });

  it("gives back the plaintext as raw when deflate does not shrink it, and the member when asked for it anyway", async () => {
    pool = new CompressPool(1);
    const noise = randomBytes(100_000);
    const raw = await pool.encode(noise, 3);
    expect(raw.encoding).toBe("raw");
    expect(raw.stored.equals(noise)).toBe(true);
    const forced = await pool.encode(noise, 1, { orRaw: false });
    expect(forced.encoding).toBe("gzip");
    expect(forced.stored.length).toBeGreaterThan(noise.length);
  });

  it("fails queued work with a clear error once closed, and refuses new work", async () => {
    pool = new CompressPool(1);
    const pending = Promise.allSettled(Array.from({ length: 6 }, () => pool!.encode(Buffer.from("x".repeat(500_000)), 6)));
    await pool.close();
    const results = await pending;
    expect(results.some((r) => r.status === "rejected" && /compression pool was closed/.test(String(r.reason)))).toBe(true);
    await expect(pool.encode(Buffer.from("y"), 3)).rejects.toThrow(/compression pool was closed/);
  });
  it("surveys files on a thread: the stat always, piece and whole-file hashes only for a same-size file whose identity moved or on a rehash", async () => {
    pool = new CompressPool(2);
    const dir = mkdtempSync(path.join(tmpdir(), "survey-"));
    try {
      const big = randomBytes(2.5 * 1024 * 1024);
      const small = Buffer.from("small file\n".repeat(100));
      writeFileSync(path.join(dir, "big"), big);
      writeFileSync(path.join(dir, "small"), small);
      writeFileSync(path.join(dir, "empty"), "");
      const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
      const idOf = (f: string) => {
        const st = statSync(path.join(dir, f), { bigint: true });
        return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino) };
      };
      const MiB = 1024 * 1024;
      const moved = (f: string) => ({ ...idOf(f), ino: "1" });
      const ask = (f: string, prev: ReturnType<typeof idOf> | null, rehash = false) => ({ file: path.join(dir, f), prev, rehash, pieceSize: MiB });
      const [bigCopy, smallSame, smallRehash, smallResized, first, emptyCopy, gone] = await pool.survey([
        ask("big", moved("big")), ask("small", idOf("small")), ask("small", idOf("small"), true), ask("small", { ...moved("small"), size: 5 }),
        ask("small", null), ask("empty", moved("empty")), ask("gone", null),
      ]);
      expect(bigCopy).toMatchObject({ id: idOf("big"), whole: sha(big), shas: [sha(big.subarray(0, MiB)), sha(big.subarray(MiB, 2 * MiB)), sha(big.subarray(2 * MiB))] });
      expect(bigCopy!.id!.mode & 0o170000).toBe(0o100000);
      expect(bigCopy!.id!.mtimeMs).toBe(Math.floor(statSync(path.join(dir, "big")).mtimeMs));
      // Unchanged identity: nothing read; a rehash reads it anyway; another size or no previous record: nothing read.
      expect(smallSame).toEqual({ id: expect.objectContaining(idOf("small")) });
      expect(smallRehash).toMatchObject({ shas: [sha(small)], whole: sha(small) });
      expect(smallResized!.shas).toBeUndefined();
      expect(first!.shas).toBeUndefined();
      expect(emptyCopy).toMatchObject({ shas: [], whole: sha(Buffer.alloc(0)) });
      expect(gone).toEqual({ error: expect.stringContaining("ENOENT") });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
