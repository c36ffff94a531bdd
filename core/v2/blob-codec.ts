// How a v2 blob is stored: a gzip member or the raw bytes, chosen per file, and the checked decode every reader uses.
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { ChecksumMismatchError, UnsafeArchiveError } from "../errors.ts";
import type { BlobRef, StoredBlob } from "../manifest.ts";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export type Encoding = BlobRef["encoding"];

/** Files are cut into pieces of this size: memory stays bounded, and a change to a big file stores one piece. */
export const CHUNK_SIZE = 1024 * 1024;
/**
 * Database snapshots are cut finer, at a power of two, so a piece is whole pages for every SQLite page size (512 B to
 * 64 KiB; the default is 4 KiB). A day's changed rows land on pages all over the file (index pages above all), so the
 * pieces must be small: on the bench's 104 MB database with 1% of rows changed, 256 KiB pieces stored 24.3 MB again,
 * 32 KiB pieces 7.1 MB (2.6% of the whole store), before page patches (core/v2/db-delta.ts) stored a changed piece as
 * its changed pages. With those, 64 KiB grows the store as 32 KiB did (bench store after 30 daily backups at 1% churn:
 * 1.365x the first backup against 1.367x), and a piece alone deflates better and faster: the bench database at level 4
 * took 38.5 MB and 1.29 s of CPU in 32 KiB pieces, 36.0 MB and 1.32 s in 64 KiB ones (DB_GZIP_LEVEL below). Packing
 * keeps the request count low.
 */
export const DB_CHUNK_SIZE = 64 * 1024;
/**
 * What a file's first bytes must show for its encoding (firstEncoding): its entropy, and where that is high, a level-1
 * trial deflate. 16 KiB, not 64: the trial of the bench's 321 incompressible PDFs cost 0.29 s of CPU at 64 KiB (level 1
 * is as slow as any level on bytes without matches), ~0.07 s at 16 KiB, for the same decisions.
 */
const SAMPLE_BYTES = 16 * 1024;

// Text formats: gzip outright, without sampling entropy (every piece still falls back to raw if deflate cannot shrink it).
const TEXT = new Set([
  "txt", "md", "csv", "tsv", "json", "ndjson", "jsonl", "html", "htm", "xml", "yaml", "yml", "log", "sql", "css", "js", "mjs",
  "cjs", "ts", "svg", "ics", "vcf", "eml", "rtf", "prisma", "ini", "toml", "env", "conf",
]);

// Already-compressed formats: deflate would spend CPU to gain nothing (or grow them), so they are stored raw.
const STORED_RAW = new Set([
  "jpg", "jpeg", "png", "gif", "webp", "heic", "avif", "mp4", "mov", "m4v", "webm", "mkv", "avi", "mp3", "m4a", "aac", "ogg",
  "opus", "flac", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "docx", "xlsx", "pptx", "odt", "ods", "epub", "woff2",
]);

/**
 * Deflate level of every gzip piece of a file (the database's: DB_GZIP_LEVEL). Measured on the bench CRM
 * (bench/generate.ts), per 1 MiB text piece and per 32 KiB database piece: level 4 (zlib's cheapest lazy-matching
 * level) stores 3% less than level 3 for about 10% more CPU; level 5 saves 6% for 50% more, level 6 7% for twice the
 * CPU. Pieces are compressed alone (a database piece starts with an empty window), so level 3 left the first backup 6%
 * over `tar -czf`'s one gzip -6 stream; level 4 brings it under the 5% target. A piece already stored is referenced by
 * its plaintext's hash, so changing this never stores old data again.
 */
export const GZIP_LEVEL = 4;
/**
 * Deflate level of the database's pieces. A first backup is bound by CPU on two cores, and there the database is a
 * third of the deflating. The bench database in 64 KiB pieces: level 1 38.9 MB for 0.98 s of CPU, level 2 37.9 MB for
 * 0.98 s, level 3 37.1 MB for 1.16 s, level 4 36.0 MB for 1.32 s. Level 2 stores less than level 4 did in 32 KiB
 * pieces (38.5 MB) for a quarter less CPU.
 */
export const DB_GZIP_LEVEL = 2;
/**
 * Logs are gzipped whole (logs/<name>.log.gz) on libuv's pool, beside the pieces' threads. Level 4 like the pieces: on
 * the bench's 20 MB of logs level 6 stored 4.74 MB for 0.35 s of CPU, level 4 5.11 MB for 0.17 s (level 5 4.83 MB,
 * 0.26 s). A first backup is bound by CPU on two cores, and 0.18 s of it buys more there than 0.37 MB of store.
 */
export const LOG_GZIP_LEVEL = 4;
/**
 * zlib's memLevel for pieces and logs: 9 (a hash table of 2^16 heads, not 8's 2^15) deflates the bench CRM's database
 * pieces and text uploads at level 4 about 5% faster for the same bytes (4 interleaved rounds on 170 MB of output: 4.4-5.0
 * s against 4.7-5.4 s, +2 KB), and its logs at level 6 4% faster and 4 KB smaller. It costs 128 KiB more per stream.
 */
export const GZIP_MEM_LEVEL = 9;
/** Above this many bits per byte (order-0 entropy of the sample) a file may be incompressible: a trial deflate decides. */
const ENTROPY_TRIAL = 7;

const extension = (entryPath: string) => /\.([a-z0-9]+)$/i.exec(entryPath)?.[1]?.toLowerCase();

/** A file stored raw whatever its bytes: its name says it is already compressed. */
export const storedRawByName = (entryPath: string): boolean => STORED_RAW.has(extension(entryPath) ?? "");

/** A file gzipped whatever its bytes: its name says it is text. */
export const textByName = (entryPath: string): boolean => TEXT.has(extension(entryPath) ?? "");

/** The first decision about a file's encoding: raw or gzip outright, or a trial deflate of `sample` must decide. */
export function firstEncoding(entryPath: string, firstBytes: Buffer): Encoding | { trial: Buffer } {
  const ext = extension(entryPath);
  if (ext && STORED_RAW.has(ext)) return "raw";
  if (ext && TEXT.has(ext)) return "gzip";
  const sample = firstBytes.subarray(0, SAMPLE_BYTES);
  if (sample.length < 512) return "gzip";
  // Under 7 bits a byte, Huffman coding alone saves over 10%: the trial would say gzip, so it is skipped (it cost a
  // level-1 deflate of 64 KiB per file, as much CPU as compressing a typical document outright).
  return entropyBits(sample) < ENTROPY_TRIAL ? "gzip" : { trial: sample };
}

/** Raw when a fast deflate of the sample saves under 10% (the trial's gzip member is `deflated` bytes long). */
export const trialEncoding = (sampleSize: number, deflated: number): Encoding => (deflated > sampleSize * 0.9 ? "raw" : "gzip");

/** Order-0 Shannon entropy in bits per byte. */
export function entropyBits(b: Uint8Array): number {
  const counts = new Uint32Array(256);
  for (let i = 0; i < b.length; i++) counts[b[i]!]!++;
  let bits = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    if (c > 0) bits -= c * Math.log2(c / b.length);
  }
  return bits / b.length;
}

/** The stored form of one piece; gzip falls back to raw for a piece that deflate does not shrink. */
export async function encodeBlob(plain: Buffer, encoding: Encoding, level = GZIP_LEVEL): Promise<{ stored: Buffer; encoding: Encoding }> {
  if (encoding === "raw") return { stored: plain, encoding };
  // Node's gzip header has no name and mtime 0, so a piece always encodes to the same bytes.
  const stored = await gzipAsync(plain, { level, memLevel: GZIP_MEM_LEVEL });
  return storedForm(plain, stored);
}

/** gzip only when it shrinks the piece: otherwise the plaintext itself is stored. */
export const storedForm = (plain: Buffer, gz: Buffer): { stored: Buffer; encoding: Encoding } =>
  gz.length < plain.length ? { stored: gz, encoding: "gzip" } : { stored: plain, encoding: "raw" };

export const sha256Hex = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/**
 * The plaintext of a stored blob, checked: stored length, decoded size (gunzip may not write past it, so a
 * gzip bomb stops at the recorded size) and SHA-256. `where` names the file for the error message.
 */
export async function decodeBlob(stored: Buffer, ref: StoredBlob, where: string): Promise<Buffer> {
  if (stored.length !== ref.length) {
    throw new ChecksumMismatchError(`read blob ${ref.sha256.slice(0, 12)} of ${where}: ${ref.pack} holds ${stored.length} bytes at ${ref.offset}, expected ${ref.length}; the store is damaged, pick another backup`);
  }
  let plain: Buffer;
  if (ref.encoding === "raw") plain = stored;
  else {
    try {
      // One output buffer a byte bigger than the piece: zlib fills it in one go instead of 16 KiB chunks joined at
      // the end (64 small allocations and a copy per MiB, which fragmented the main thread's malloc heap).
      plain = await gunzipAsync(stored, { maxOutputLength: Math.max(ref.size, 1), chunkSize: Math.max(ref.size + 1, 64) });
    } catch (err) {
      throw new UnsafeArchiveError(`read blob ${ref.sha256.slice(0, 12)} of ${where}: not a gzip member of ${ref.size} bytes (${(err as Error).message}); the store is damaged, pick another backup`, { cause: err });
    }
  }
  if (plain.length !== ref.size || sha256Hex(plain) !== ref.sha256) {
    throw new ChecksumMismatchError(`read blob ${ref.sha256.slice(0, 12)} of ${where}: its content (${plain.length} bytes, SHA-256 ${sha256Hex(plain).slice(0, 12)}) differs from the recorded one; the store is damaged, pick another backup`);
  }
  return plain;
}
