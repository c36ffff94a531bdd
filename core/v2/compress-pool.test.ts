// The compression pool on real worker threads: zlib's exact bytes, raw when deflate does not shrink, transfer and close.
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
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
      expect(o.stored.equals(gzipSync(pieces[i]!, { level: 3 }))).toBe(true);
    });
  });

  it("moves a transferred buffer to the worker and brings the member back in that same buffer", async () => {
    pool = new CompressPool(1);
    const plain = own(Buffer.from("abc ".repeat(50_000)));
    const expected = gzipSync(Buffer.from("abc ".repeat(50_000)), { level: 3 });
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
});
