// Reading v2 backups: pieces fetched pack by pack, every piece and file checked by size and SHA-256, names vetted.
import { createHash } from "node:crypto";
import { constants as fsc, read } from "node:fs";
import { mkdir, open, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { entryProblem } from "../component-rules.ts";
import { DEFAULT_LIMITS } from "../archive/extract-limits.ts";
import { ChecksumMismatchError, UnsafeArchiveError } from "../errors.ts";
import type { BlobRef, FileEntryV2, StoredBlob } from "../manifest.ts";
import { FsStorage } from "../storage/fs-storage.ts";
import type { Storage } from "../storage/storage.ts";
import { CHUNK_SIZE, decodeBlob } from "./blob-codec.ts";
import { mapInOrder } from "./bounded.ts";
import { decodeDbPiece, isPatched } from "./db-pieces.ts";
import { PackFiles } from "./pack-files.ts";
import { noteMainGarbage } from "./thread-gc.ts";

/** Packs up to this size are fetched whole (one request for all their pieces); larger ones by range. */
const WHOLE_PACK_LIMIT = 32 * 1024 * 1024;
/**
 * Whole packs kept in memory, by bytes: several files are read at once (restore staging, read-ahead), and each may
 * be in a different pack; a cap by count alone would let 32 MiB packs add up. Eight 4 MiB packs (one per restore
 * lane), and never less than one whole pack: measured on the bench restore, 64 MiB cost ~30 MiB more peak RSS than 24
 * in the same staging time.
 */
const CACHE_BYTES = WHOLE_PACK_LIMIT;
/** The most a stored piece may take: a whole piece and what gzip can add to it. */
export const MAX_STORED_PIECE = CHUNK_SIZE + 64 * 1024;
/**
 * readSparse: pieces this close in a pack are read in one range, up to SPARSE_SPAN bytes per range, SPARSE_READS
 * ranges at once. A local store's range is one pread, so only near neighbours merge (bench: 307 reads of 5.7 MB); an
 * object store's is a request, so ranges merge across wider gaps (39 requests of 42 MB, against 23 packs of 101 MB).
 */
const SPARSE_GAP = { local: 16 * 1024, remote: 1024 * 1024 };
const SPARSE_SPAN = 4 * 1024 * 1024;
const SPARSE_READS = 4;
/** Pieces of one file decoded ahead of the one being written: gunzip runs on libuv's pool, so this uses every core. */
const READ_AHEAD = 3;

/** pread(2) through libuv, for reading a piece of a pack file in place. */
const readAt = (fd: number, into: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, into, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/**
 * On a store kept on files (the fs store), every piece or span is read in place by pread into a buffer of exactly its
 * size: no whole pack is fetched or cached, nothing is streamed in 64 KiB chunks and joined. Fetching whole packs
 * held up to CACHE_BYTES of packs plus each one's chunks while they were joined, and the main thread's malloc heap
 * kept that high-water mark for the rest of the process (a scale-4 bench restore's heap grew by ~70 MiB while staging).
 * It also read whole packs for a few pieces. A store without files (S3) still fetches whole packs, cached by bytes.
 */
export class PackReader {
  // Promises, so that readers of the same pack at the same moment share one fetch.
  private readonly cache = new Map<string, Promise<Buffer | null>>();
  private readonly sizes = new Map<string, number>();
  private readonly large = new Set<string>();
  private readonly files: PackFiles | null;
  private readonly reading = new Set<Promise<unknown>>();
  /**
   * `cacheBytes`: whole packs kept in memory (a verify, reading packs nearly in order, needs fewer). `byRange`: every
   * piece read by its own range, no pack fetched whole (the backup's database patcher reads a few pieces of many packs).
   */
  constructor(private readonly storage: Storage, private readonly cacheBytes = CACHE_BYTES, private readonly byRange = false) {
    this.files = PackFiles.of(storage);
  }

  /** Closes the pack files opened for in-place reads, once the reads in flight have settled. */
  async close(): Promise<void> {
    while (this.reading.size > 0) await Promise.allSettled(this.reading);
    await this.files?.close();
  }

  /** The checked plaintext of one piece (a patched database piece assembled from its base and pages). */
  async read(ref: BlobRef, where: string): Promise<Buffer> {
    if (isPatched(ref)) return decodeDbPiece(this, ref, where);
    return decodeBlob(await this.readStored(ref, where), ref, where);
  }

  /** One piece as stored, unchecked but for its recorded sizes: the caller decodes and checks it (the export does). */
  async readStored(ref: StoredBlob, where: string): Promise<Buffer> {
    checkPieceBounds(ref, where);
    if (this.files) return this.readInPlace(ref.pack, ref.offset, ref.length);
    const pack = await this.pack(ref.pack);
    return pack ? pack.subarray(ref.offset, ref.offset + ref.length) : await this.range(ref);
  }

  /**
   * Scattered pieces (a few hundred of a database's thousands) read by byte range, not by whole pack: neighbours in
   * the same pack less than SPARSE_GAP apart share one ranged read of at most SPARSE_SPAN bytes. On the bench's
   * database, the 396 pieces that differed (5.3 MB stored) sat in 23 packs of 101 MB. Each piece is handed to `each`
   * checked (decodeBlob), in no particular order; at most SPARSE_READS ranged reads are in flight.
   */
  async readSparse(refs: readonly BlobRef[], where: string, each: (ref: BlobRef, plain: Buffer) => Promise<void>): Promise<void> {
    for (const ref of refs) checkPieceBounds(ref, where);
    // A patched database piece is its base plus pages from bundles: assembled and checked by decodeDbPiece, not here.
    await mapInOrder(refs.filter(isPatched), SPARSE_READS, async (ref) => each(ref, await this.read(ref, where)));
    const sorted = refs.filter((r) => !isPatched(r)).sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.offset - b.offset));
    const gap = this.storage instanceof FsStorage ? SPARSE_GAP.local : SPARSE_GAP.remote;
    const spans: { pack: string; start: number; end: number; refs: BlobRef[] }[] = [];
    for (const ref of sorted) {
      const last = spans.at(-1);
      const end = ref.offset + ref.length;
      if (last && last.pack === ref.pack && ref.offset - last.end <= gap && end - last.start <= SPARSE_SPAN) {
        last.end = Math.max(last.end, end);
        last.refs.push(ref);
      } else spans.push({ pack: ref.pack, start: ref.offset, end, refs: [ref] });
    }
    await mapInOrder(spans, SPARSE_READS, async (span) => {
      let body: Buffer;
      if (this.files) body = await this.readInPlace(span.pack, span.start, span.end - span.start);
      else {
        const chunks: Buffer[] = [];
        if (span.end > span.start) {
          const stream = await this.storage.get(span.pack, { start: span.start, end: span.end - 1 }).catch((err) => { throw missing(span.pack, err); });
          for await (const c of stream) chunks.push(c as Buffer);
        }
        body = Buffer.concat(chunks);
      }
      for (const ref of span.refs) {
        const at = ref.offset - span.start;
        await each(ref, await decodeBlob(body.subarray(at, at + ref.length), ref, where));
      }
    });
  }

  /** `length` bytes at `start` of a pack file, or fewer where the file ends (the caller's length check names the damage). */
  private readInPlace(key: string, start: number, length: number): Promise<Buffer> {
    const p = this.pread(key, start, length);
    const tracked = p.finally(() => this.reading.delete(tracked));
    tracked.catch(() => undefined); // the caller handles p's failure
    this.reading.add(tracked);
    return p;
  }

  private async pread(key: string, start: number, length: number): Promise<Buffer> {
    const files = this.files!;
    const fd = await files.acquire(key);
    try {
      const buf = Buffer.allocUnsafeSlow(length);
      let got = 0;
      for (let n = 1; got < length && n > 0; got += n) n = await readAt(fd, buf, got, length - got, start + got);
      return got === length ? buf : buf.subarray(0, got);
    } finally {
      files.release(key);
    }
  }

  private pack(key: string): Promise<Buffer | null> {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    if (this.byRange || this.large.has(key)) return Promise.resolve(null);
    const p = this.fetch(key);
    this.cache.set(key, p);
    p.then(
      (body) => {
        if (!body) this.cache.delete(key);
        else if (this.cache.get(key) === p) this.sizes.set(key, body.length);
        this.evict();
      },
      () => this.cache.delete(key),
    );
    return p;
  }

  private evict(): void {
    let held = [...this.sizes.values()].reduce((n, s) => n + s, 0);
    for (const key of this.cache.keys()) {
      if (held <= this.cacheBytes) break;
      const size = this.sizes.get(key);
      if (size === undefined) continue; // still on its way: its readers hold it anyway
      this.cache.delete(key);
      this.sizes.delete(key);
      held -= size;
      noteMainGarbage(size);
    }
  }

  private async fetch(key: string): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    const stream = await this.storage.get(key).catch((err) => { throw missing(key, err); });
    for await (const c of stream) {
      size += (c as Buffer).length;
      if (size > WHOLE_PACK_LIMIT) {
        stream.destroy();
        this.large.add(key);
        return null;
      }
      chunks.push(c as Buffer);
    }
    noteMainGarbage(size); // the chunks, now copied
    return Buffer.concat(chunks);
  }

  private async range(ref: StoredBlob): Promise<Buffer> {
    if (ref.length === 0) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const c of await this.storage.get(ref.pack, { start: ref.offset, end: ref.offset + ref.length - 1 })) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}

/** A manifest may come from anyone who can write the store: bound what one piece can make us allocate. */
export function checkPieceBounds(ref: StoredBlob, where: string): void {
  if (ref.size > CHUNK_SIZE || ref.length > MAX_STORED_PIECE) {
    throw new UnsafeArchiveError(`read blob ${ref.sha256.slice(0, 12)} of ${where}: recorded sizes ${ref.size}/${ref.length} exceed the ${CHUNK_SIZE}-byte pieces this tool writes; the backup is not one this tool made`);
  }
}

function missing(key: string, err: unknown): Error {
  return new ChecksumMismatchError(`read pack ${key}: ${(err as Error).message}; the store is missing data this backup needs, pick another backup`, { cause: err });
}

/** Streams a file's pieces in order to `sink`, then checks the file's size and SHA-256 against the manifest. */
export async function readFileBlobs(reader: PackReader, f: FileEntryV2, sink: (plain: Buffer) => Promise<void> | void): Promise<void> {
  for await (const plain of fileBlobs(reader, f)) await sink(plain);
}

/** A file's checked pieces in order; the last step (after the final piece) checks the whole file's SHA-256. */
export async function* fileBlobs(reader: PackReader, f: FileEntryV2): AsyncGenerator<Buffer> {
  checkFileSizes(f);
  // A file of one piece whose hash is the file's was checked whole by decodeBlob: hashing it again would change nothing.
  const hash = f.blobs.length === 1 && f.blobs[0]!.sha256 === f.sha256 ? null : createHash("sha256");
  const ahead: Promise<Buffer>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < READ_AHEAD && next < f.blobs.length) {
      const p = reader.read(f.blobs[next++]!, f.path);
      p.catch(() => undefined); // handled when its turn comes; a consumer that stops early leaves no unhandled rejection
      ahead.push(p);
    }
  };
  fill();
  while (ahead.length > 0) {
    const plain = await ahead.shift()!;
    fill();
    hash?.update(plain);
    yield plain;
  }
  const sha = hash ? hash.digest("hex") : f.sha256;
  if (sha !== f.sha256) throw new ChecksumMismatchError(`check backup file ${f.path}: its content has SHA-256 ${sha}, the manifest records ${f.sha256}; the backup is damaged, pick another`);
}

/** A file's recorded pieces add up to its size, and the size is one the extractor would accept. */
export function checkFileSizes(f: FileEntryV2): void {
  const total = f.blobs.reduce((n, b) => n + b.size, 0);
  if (total !== f.size) throw new UnsafeArchiveError(`check backup file ${f.path}: its pieces add up to ${total} bytes but the file is recorded as ${f.size}; the backup is not one this tool made`);
  if (f.size > DEFAULT_LIMITS.maxEntrySize) throw new UnsafeArchiveError(`check backup file ${f.path}: ${f.size} bytes is over the ${DEFAULT_LIMITS.maxEntrySize}-byte limit for one file`);
}

/** Where `f` goes under `root` (the staging folder); its name must pass the component rules and stay inside. */
export function stagedPath(root: string, component: string, f: FileEntryV2): string {
  const problem = entryProblem(f.path, "file", component);
  if (problem) throw new UnsafeArchiveError(`extract archive: ${f.path}: ${problem}`);
  const dest = path.resolve(root, f.path);
  if (!dest.startsWith(path.resolve(root) + path.sep)) throw new UnsafeArchiveError(`extract archive: ${f.path}: resolves outside the staging folder`);
  return dest;
}

export const listedTwice = (f: FileEntryV2) => new UnsafeArchiveError(`extract archive: ${f.path}: listed more than once`);

/** Writes `f` at `dest` from its checked pieces; the folder above exists. `sync: false` leaves the fsync to the caller. */
export async function writeFromBlobs(reader: PackReader, f: FileEntryV2, dest: string, onBytes?: (n: number) => void, sync = true): Promise<void> {
  // O_EXCL + O_NOFOLLOW, as the extractor: a name listed twice is refused, never overwritten, no link followed.
  const fh = await open(dest, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0), 0o600).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw listedTwice(f);
    throw err;
  });
  try {
    await readFileBlobs(reader, f, async (plain) => {
      await fh.write(plain);
      onBytes?.(plain.length);
    });
    await finishStagedFile(fh, f, sync);
  } finally {
    await fh.close();
  }
}

/** The backup's mode and mtime on a staged file, then fsync (unless the caller syncs later): a swap must not publish unwritten data. */
export async function finishStagedFile(fh: FileHandle, f: FileEntryV2, sync = true): Promise<void> {
  await fh.chmod(f.mode & 0o777);
  const mtime = f.mtime ? new Date(f.mtime) : undefined;
  if (mtime && !Number.isNaN(mtime.getTime())) await fh.utimes(mtime, mtime);
  if (sync) await fh.sync();
}

/**
 * Writes the files of `component` under `stagingDir` with the layout a v1 archive extracts to (database/dev.db,
 * uploads/..., config/..., logs/<name>.log.gz). Names pass the component rules, and no file is written twice or
 * outside the staging folder.
 */
export async function materializeFiles(reader: PackReader, component: string, files: FileEntryV2[], stagingDir: string, onBytes?: (n: number) => void): Promise<void> {
  for (const f of files) {
    const dest = stagedPath(stagingDir, component, f);
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
    await writeFromBlobs(reader, f, dest, onBytes);
  }
}
