// The gzip members an export is made of: stored pieces passed through once proven, raw pieces stored, tar framing deflated.
import { createGunzip, gzip } from "node:zlib";
import { promisify } from "node:util";
import { ChecksumMismatchError, UnsafeArchiveError } from "../errors.ts";
import type { BlobRef } from "../manifest.ts";
import { decodeBlob, sha256Hex } from "./blob-codec.ts";

const gzipAsync = promisify(gzip);

/**
 * A .tar.gz may be a series of gzip members (RFC 1952 2.2; gunzip and GNU tar read them as one stream), so the
 * export never deflates file content again: a piece stored as a gzip member goes out as those very bytes. This
 * returns the piece's plaintext, and proves on the way that `gzip -d` of the passed-through bytes yields exactly it.
 * Each check and what it protects:
 * - stored length = recorded length: the bytes read are the ones the manifest points at (a cut or short pack);
 * - gunzip output bounded by the recorded size: a damaged or planted member cannot make us allocate more;
 * - zlib's own CRC-32 and length trailer check: the same check `gzip -t` and `tar -xzf` will make on the export;
 * - every input byte consumed: Node's gunzip skips bytes after a member that start with a zero, GNU gzip stops its
 *   stream there ("trailing garbage ignored") and would drop the rest of the archive;
 * - decoded size = recorded size: the tar header was written from the recorded sizes before the content, and a
 *   different count would shift every later header (the tar would be unreadable past this file);
 * - SHA-256 of the plaintext = the recorded one: the content is the backup's, piece by piece; the export then
 *   checks the whole file's SHA-256 as restore does.
 */
export async function checkedGzipMember(stored: Buffer, ref: BlobRef, where: string): Promise<Buffer> {
  const damaged = (why: string, cause?: unknown) =>
    new ChecksumMismatchError(`export blob ${ref.sha256.slice(0, 12)} of ${where}: ${why}; the store is damaged, pick another backup`, cause === undefined ? undefined : { cause });
  if (stored.length !== ref.length) throw damaged(`${ref.pack} holds ${stored.length} bytes at ${ref.offset}, expected ${ref.length}`);
  // One output buffer the size of the piece: zlib's default 16 KiB chunks cost a callback and a copy each.
  const z = createGunzip({ chunkSize: Math.max(64 * 1024, ref.size + 1) });
  const parts: Buffer[] = [];
  let size = 0;
  const limit = Math.max(ref.size, 1);
  await new Promise<void>((resolve, reject) => {
    z.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) z.destroy(new UnsafeArchiveError(`export blob ${ref.sha256.slice(0, 12)} of ${where}: decodes to more than its recorded ${ref.size} bytes; the store is damaged, pick another backup`));
      else parts.push(c);
    });
    z.on("error", reject);
    z.on("end", resolve);
    z.end(stored);
  }).catch((err: unknown) => {
    throw err instanceof UnsafeArchiveError ? err : new UnsafeArchiveError(`export blob ${ref.sha256.slice(0, 12)} of ${where}: not a gzip member of ${ref.size} bytes (${(err as Error).message}); the store is damaged, pick another backup`, { cause: err });
  });
  if (z.bytesWritten !== stored.length) throw damaged(`${stored.length - z.bytesWritten} bytes follow its gzip member`);
  const plain = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
  if (plain.length !== ref.size) throw damaged(`decodes to ${plain.length} bytes, the manifest records ${ref.size}`);
  const sha = sha256Hex(plain);
  if (sha !== ref.sha256) throw damaged(`its content has SHA-256 ${sha.slice(0, 12)}, the manifest records another`);
  return plain;
}

/** A raw piece, checked (length and SHA-256, as every reader does); its plaintext is the stored bytes. */
export const checkedRaw = (stored: Buffer, ref: BlobRef, where: string): Promise<Buffer> => decodeBlob(stored, ref, where);

/**
 * Incompressible bytes (raw pieces) as a gzip member of stored deflate blocks: deflating media again costs CPU and
 * saves nothing (the writer chose raw because deflate did not shrink them), so level 0 only adds 5 bytes per 64 KiB.
 */
export const storedMember = (plain: Buffer): Promise<Buffer> => gzipAsync(plain, { level: 0 });

/** Tar headers, padding and the small entries (manifest.json, RESTORE.txt): compressible, few, deflated at gzip's default. */
export const deflatedMember = (bytes: Buffer): Promise<Buffer> => gzipAsync(bytes, { level: 6 });
