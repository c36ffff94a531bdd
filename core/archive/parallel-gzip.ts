// Gzip on every core: the stream is cut into blocks compressed as independent gzip members in libuv's thread pool.
// Concatenated members are one valid gzip stream (RFC 1952), so `tar -xzf` and zlib's gunzip read it unchanged.
import { Transform, type TransformCallback } from "node:stream";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { gzip, constants } from "node:zlib";

const gzipAsync = promisify(gzip);

export interface ParallelGzipOptions {
  /** Uncompressed bytes per gzip member; 1 MiB keeps the ratio within ~0.1% of one member. */
  blockSize?: number;
  /** Blocks compressing at once; bounds memory to about 2 x blockSize x inFlight. */
  inFlight?: number;
  level?: number;
}

export function createParallelGzip(options: ParallelGzipOptions = {}): Transform {
  const blockSize = options.blockSize ?? 1 << 20;
  const inFlight = options.inFlight ?? availableParallelism() + 1;
  const level = options.level ?? constants.Z_DEFAULT_COMPRESSION;
  const queue: Promise<Buffer>[] = [];
  let parts: Buffer[] = [];
  let buffered = 0;
  let blocks = 0;

  const dispatch = () => {
    if (buffered === 0) return;
    const block = parts.length === 1 ? parts[0]! : Buffer.concat(parts, buffered);
    parts = [];
    buffered = 0;
    blocks++;
    const job = gzipAsync(block, { level });
    job.catch(() => undefined); // surfaced in order by drainTo; avoid an unhandled rejection meanwhile
    queue.push(job);
  };

  // Emits finished blocks in order until at most `limit` remain compressing.
  const drainTo = async (stream: Transform, limit: number) => {
    while (queue.length > limit) stream.push(await queue.shift()!);
  };

  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(blockSize - buffered, chunk.length - offset);
        parts.push(chunk.subarray(offset, offset + take));
        buffered += take;
        offset += take;
        if (buffered === blockSize) dispatch();
      }
      drainTo(this, inFlight - 1).then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      dispatch();
      // Empty input still yields a valid (empty) gzip stream.
      if (blocks === 0) queue.push(gzipAsync(Buffer.alloc(0), { level }));
      drainTo(this, 0).then(() => callback(), callback);
    },
  });
}
