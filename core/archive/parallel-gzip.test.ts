import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { createParallelGzip } from "./parallel-gzip.ts";

async function compress(chunks: Buffer[], opts: Parameters<typeof createParallelGzip>[0]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), createParallelGzip(opts), async function* (src) {
    for await (const c of src) out.push(c as Buffer);
  });
  return Buffer.concat(out);
}

describe("createParallelGzip", () => {
  it("produces concatenated gzip members that gunzip back to the input, in order", async () => {
    const input = Buffer.concat([randomBytes(300_000), Buffer.alloc(500_000, 7), randomBytes(123_457)]);
    const chunks = [];
    for (let i = 0; i < input.length; i += 65_536) chunks.push(input.subarray(i, i + 65_536));
    const gz = await compress(chunks, { blockSize: 100_000, inFlight: 3 });
    expect(gunzipSync(gz).equals(input)).toBe(true);
    // One member per block: count gzip magic + deflate method at member starts.
    let members = 0;
    for (let i = 0; i + 2 < gz.length; i++) if (gz[i] === 0x1f && gz[i + 1] === 0x8b && gz[i + 2] === 8) members++;
    expect(members).toBeGreaterThanOrEqual(Math.ceil(input.length / 100_000));
  });

  it("handles empty input and input smaller than one block", async () => {
    expect(gunzipSync(await compress([], {})).length).toBe(0);
    const small = Buffer.from("hello");
    expect(gunzipSync(await compress([small], {})).toString()).toBe("hello");
  });
});
