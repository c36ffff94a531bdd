// SHA-256 helpers: hash a file or stream without holding it in memory, and a pass-through that hashes what flows.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable, Transform } from "node:stream";

export async function sha256File(file: string, length?: number): Promise<{ sha256: string; size: number }> {
  const opts = length === undefined ? {} : length === 0 ? { start: 0, end: -1 } : { start: 0, end: length - 1 };
  return sha256Stream(length === 0 ? Readable.from([]) : createReadStream(file, opts));
}

export async function sha256Stream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** A pass-through that hashes and counts the bytes flowing through it; read `digest()` after it ends. */
export class HashingPassThrough extends Transform {
  private readonly hash: Hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    cb();
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

