// Turns one local file into its v2 record: reused by metadata when unchanged, else read once, hashed, cut and packed.
import { createHash } from "node:crypto";
import { close, open, read, stat, type BigIntStats } from "node:fs";
import { FileChangedError } from "../archive/write.ts";
import type { BlobRef, FileEntryV2 } from "../manifest.ts";
import { CHUNK_SIZE, GZIP_LEVEL, firstEncoding, sha256Hex, trialEncoding, type Encoding } from "./blob-codec.ts";
import { ByteBudget } from "./bounded.ts";
import type { CompressPool, Encoded } from "./compress-pool.ts";
import type { PackWriter } from "./pack-writer.ts";
import { addPhase, phasesEnabled } from "./phase-clock.ts";

/** Read buffers are whole powers of two from 16 KiB (so a few sizes serve every piece and can be reused). */
const capacityFor = (size: number) => 2 ** Math.max(14, Math.ceil(Math.log2(Math.max(size, 1))));

/**
 * Plaintext read but not yet packed, across every file in flight: enough to keep each compression thread fed with a
 * few pieces while the next files are read, and a fixed amount whatever the store's or the CRM's size. (16 MiB on two
 * cores showed no gain over 8 in 7 interleaved A/B rounds of the first backup at load 6-10, for 8 MiB more memory.)
 */
export const budgetFor = (threads: number) => new ByteBudget(Math.max(8, 4 * threads) * CHUNK_SIZE);

export interface FileSource { entry: string; file: string; mode?: number; originalSize?: number }
export interface SourceIdentity { size: number; mtimeNs: string; ctimeNs: string; ino: string; mode: number; mtime: Date }

/**
 * Plain descriptors and callbacks rather than fs/promises' FileHandle: with thousands of small files, FileHandle's
 * objects and promise plumbing cost more main-thread time than the reads themselves (stat, open, 1 MiB reads, close and
 * SHA-256 of the bench's 3,900 uploads, 8 at once: 1.2-2.4 s with FileHandle, 0.7-1.2 s like this, load ~16).
 */
const done = <T>(resolve: (v: T) => void, reject: (e: unknown) => void) => (err: NodeJS.ErrnoException | null, v: T) => (err ? reject(err) : resolve(v));
const statOf = (file: string) => new Promise<BigIntStats>((resolve, reject) => stat(file, { bigint: true }, done(resolve, reject)));
const openToRead = (file: string) => new Promise<number>((resolve, reject) => open(file, "r", done(resolve, reject)));
const readAt = (fd: number, into: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, into, offset, length, position, done(resolve, reject)));
const closeFd = (fd: number) => new Promise<void>((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));

export async function identify(file: string): Promise<SourceIdentity> {
  const st = await statOf(file);
  return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino), mode: Number(st.mode), mtime: new Date(Number(st.mtimeMs)) };
}

const record = (src: FileSource, id: SourceIdentity, sha256: string, blobs: BlobRef[]): FileEntryV2 => ({
  path: src.entry, size: id.size, sha256, mode: (src.mode ?? id.mode) & 0o777, mtime: id.mtime.toISOString(),
  ...(src.originalSize !== undefined ? { originalSize: src.originalSize } : {}),
  blobs, source: { size: id.size, mtimeNs: id.mtimeNs, ctimeNs: id.ctimeNs, ino: id.ino },
});

export const sameSource = (a: FileEntryV2["source"], b: SourceIdentity): boolean =>
  !!a && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;

/**
 * Another record for a new piece (core/v2/db-delta.ts: the database's pieces as patches on the previous backup's), asked
 * for each piece not already stored: null, or a promise of null, stores the piece as usual. `end` follows the last piece.
 */
export interface PieceSubstitute {
  piece(index: number, sha: string, plain: Buffer): Promise<BlobRef | null> | null;
  end(): void;
}

export interface BlobStoreStats { filesRead: number; filesReused: number; bytesRead: number; bytesReused: number }

export class BlobStore {
  readonly stats: BlobStoreStats = { filesRead: 0, filesReused: 0, bytesRead: 0, bytesReused: 0 };
  private readonly pending = new Map<string, Promise<BlobRef>>();
  private readonly budget: ByteBudget;
  private readonly spares = new Map<number, ArrayBuffer[]>();
  private spareBytes = 0;

  constructor(
    private readonly known: Map<string, BlobRef>, private readonly packs: PackWriter, private readonly pool: CompressPool,
    private readonly onBytes?: (n: number) => void,
  ) {
    this.budget = budgetFor(pool.size);
  }

  private cancelled: { reason: unknown } | undefined;

  /** Every later store() fails with `reason`: a backup that already failed elsewhere stops reading files. */
  cancel(reason: unknown): void {
    this.cancelled ??= { reason };
  }

  /** The previous record when the live file's identity equals it (nothing is opened), else a freshly stored record. */
  async reuseOrStore(src: FileSource, id: SourceIdentity, previous: FileEntryV2 | undefined, rehash: boolean): Promise<FileEntryV2> {
    if (!rehash && previous && sameSource(previous.source, id)) {
      this.stats.filesReused++;
      // Counted as done for the progress (the bar measures the data covered), though never read.
      this.stats.bytesReused += id.size;
      this.onBytes?.(this.stats.bytesRead + this.stats.bytesReused);
      return previous;
    }
    return this.store(src, id);
  }

  /** A record proven current by reading its file (the content hash matched): counted as read, though nothing is stored. */
  reread(record: FileEntryV2): FileEntryV2 {
    this.stats.filesRead++;
    this.stats.bytesRead += record.size;
    this.onBytes?.(this.stats.bytesRead + this.stats.bytesReused);
    return record;
  }

  /**
   * Reads exactly the `id.size` bytes measured, in pieces, each hashed as it is read (the file's own hash too when it
   * has more than one piece) and handed to the compression threads without waiting (gzip pieces deflated at `level`);
   * the byte budget is the only brake. A file that shrank meanwhile fails so the backup is retried.
   */
  async store(src: FileSource, id: SourceIdentity, readFile = src.file, pieceSize = CHUNK_SIZE, substitute?: PieceSubstitute, level = GZIP_LEVEL): Promise<FileEntryV2> {
    if (pieceSize > CHUNK_SIZE) throw new Error(`store ${src.entry}: pieces larger than ${CHUNK_SIZE} bytes cannot be read back`);
    if (this.cancelled) throw this.cancelled.reason;
    this.stats.filesRead++;
    const whole = id.size > pieceSize ? createHash("sha256") : null;
    let onlySha = sha256Hex(Buffer.alloc(0));
    const refs: Promise<BlobRef>[] = [];
    let encoding: Encoding | undefined;
    try {
      const fd = await openToRead(readFile);
      const readExactly = async (into: Buffer, want: number, at: number) => {
        const tr = phasesEnabled() ? performance.now() : 0;
        for (let got = 0; got < want; ) {
          const bytesRead = await readAt(fd, into, got, want - got, at + got);
          if (bytesRead === 0) throw new FileChangedError(`store ${src.entry}: ${src.file} shrank while the backup read it; it probably changed during the backup`);
          got += bytesRead;
        }
        if (tr) addPhase("read (awaited)", performance.now() - tr);
      };
      // Small pieces (the database's 64 KiB) are read a MiB at a time and copied out: one trip through libuv's four
      // threads instead of 32, which the packs' fsyncs and the other files' reads share.
      const block = pieceSize < CHUNK_SIZE && id.size > pieceSize ? Buffer.allocUnsafeSlow(CHUNK_SIZE) : null;
      let blockStart = 0;
      let blockEnd = 0;
      try {
        for (let pos = 0; pos < id.size; ) {
          const want = Math.min(pieceSize, id.size - pos);
          const held = capacityFor(want); // what the piece's buffer really takes
          const tb = phasesEnabled() ? performance.now() : 0;
          await this.budget.acquire(held);
          if (tb) addPhase("wait for byte budget", performance.now() - tb);
          let buf: Buffer;
          try {
            buf = this.buffer(want);
            if (!block) await readExactly(buf, want, pos);
            else {
              if (pos + want > blockEnd) {
                blockStart = pos;
                blockEnd = pos + Math.max(want, Math.min(CHUNK_SIZE, id.size - pos));
                await readExactly(block, blockEnd - blockStart, pos);
              }
              block.copy(buf, 0, pos - blockStart, pos - blockStart + want);
            }
          } catch (err) {
            this.budget.release(held);
            throw err;
          }
          pos += want;
          const th = phasesEnabled() ? performance.now() : 0;
          whole?.update(buf);
          const sha = sha256Hex(buf);
          if (th) addPhase("sha256 (main)", performance.now() - th);
          onlySha = sha;
          // Chosen from the file's first new piece, so a file whose pieces are all in the store already (a copy of the
          // CRM, a --rehash backup, a restore's pre-restore backup) costs no trial deflate.
          if (!encoding && !this.has(sha)) {
            try {
              encoding = await this.decide(src.entry, buf);
            } catch (err) {
              this.budget.release(held);
              throw err;
            }
          }
          const enc = encoding;
          const other = this.has(sha) ? null : substitute?.piece(refs.length, sha, buf);
          const ref = (other ? other.then((r) => (r ? (this.recycle(buf), r) : this.piece(sha, buf, enc, level))) : this.piece(sha, buf, enc, level))
            .finally(() => this.budget.release(held));
          ref.catch(() => undefined); // handled: a failure surfaces through Promise.all below
          refs.push(ref);
          this.stats.bytesRead += want;
          this.onBytes?.(this.stats.bytesRead + this.stats.bytesReused);
        }
      } finally {
        substitute?.end(); // pieces waiting on a partly filled group settle, whatever happened
        await closeFd(fd);
      }
    } catch (err) {
      // Pieces already on their way finish (or fail) before the error leaves, so nothing runs behind a retry.
      await Promise.allSettled(refs);
      throw err;
    }
    return record(src, id, whole ? whole.digest("hex") : onlySha, await Promise.all(refs));
  }

  /**
   * reuseOrStore, given what a thread read of the file (CompressPool.survey): when it hashed every piece and each is
   * already stored or on its way in (a copy of the CRM, a --rehash backup), the record is made from those hashes and the
   * file is not read here; otherwise as reuseOrStore.
   */
  async reuseHashedOrStore(src: FileSource, id: SourceIdentity, previous: FileEntryV2 | undefined, rehash: boolean, hashed?: { shas: string[]; whole: string }): Promise<FileEntryV2> {
    const unchanged = !rehash && previous && sameSource(previous.source, id);
    if (unchanged || !hashed || !hashed.shas.every((sha) => this.has(sha))) return this.reuseOrStore(src, id, previous, rehash);
    if (this.cancelled) throw this.cancelled.reason;
    const blobs = await Promise.all(hashed.shas.map((sha) => { const known = this.known.get(sha); return known ? Promise.resolve(known) : this.pending.get(sha)!; }));
    this.stats.filesRead++;
    this.stats.bytesRead += id.size;
    this.onBytes?.(this.stats.bytesRead + this.stats.bytesReused);
    return record(src, id, hashed.whole, blobs);
  }

  /**
   * A buffer for one piece: a view at the start of its own ArrayBuffer (never a slice of Node's shared pool), so the
   * whole ArrayBuffer can move to a worker and back. ArrayBuffers come in power-of-two sizes and are reused: the
   * plaintext then makes no garbage, which let RSS grow with the data while V8 put off collecting detached buffers.
   */
  private buffer(size: number): Buffer {
    const cap = capacityFor(size);
    const reused = this.spares.get(cap)?.pop();
    if (reused) this.spareBytes -= cap;
    return Buffer.from(reused ?? Buffer.allocUnsafeSlow(cap).buffer, 0, size);
  }

  private recycle(b: Buffer): void {
    const ab = b.buffer;
    if (b.byteOffset !== 0 || !(ab instanceof ArrayBuffer) || ab.byteLength !== capacityFor(ab.byteLength)) return;
    if (this.spareBytes + ab.byteLength > this.budget.limit) return;
    const list = this.spares.get(ab.byteLength) ?? [];
    list.push(ab);
    this.spares.set(ab.byteLength, list);
    this.spareBytes += ab.byteLength;
  }

  /** A file's encoding from its first new piece: by name or entropy, else a fast trial deflate on a compression thread. */
  private async decide(entry: string, first: Buffer): Promise<Encoding> {
    const te = phasesEnabled() ? performance.now() : 0;
    const e = firstEncoding(entry, first);
    if (te) addPhase("encoding choice (main)", performance.now() - te);
    if (typeof e === "string") return e;
    const { stored } = await this.pool.encode(e.trial, 1, { orRaw: false, urgent: true });
    return trialEncoding(e.trial.length, stored.length);
  }

  private has(sha: string): boolean {
    return this.known.has(sha) || this.pending.has(sha);
  }

  /** A blob built by the caller (a database page bundle): packed as a piece is, unless already stored. */
  storeBuffer(plain: Buffer, encoding: Encoding): Promise<BlobRef> {
    return this.piece(sha256Hex(plain), plain, encoding, GZIP_LEVEL, true);
  }

  /**
   * A piece already in the store (or already on its way in this run) is referenced, not stored again; only a new piece
   * needs its file's `encoding`.
   */
  private piece(sha: string, plain: Buffer, encoding: Encoding | undefined, level: number, storedOnly = false): Promise<BlobRef> {
    // A bundle must be a stored blob: a piece assembled from patches with the same bytes is not one.
    const found = this.known.get(sha);
    const known = storedOnly && found?.patches?.length ? undefined : found;
    const pending = known ? Promise.resolve(known) : this.pending.get(sha);
    if (pending) {
      this.recycle(plain);
      return pending;
    }
    if (!encoding) throw new Error(`store piece ${sha}: no encoding was chosen for a new piece`);
    const size = plain.length;
    // Node's gzip header has no name and mtime 0, so a piece always encodes to the same bytes.
    const encoded: Promise<Encoded> = encoding === "raw" ? Promise.resolve({ stored: plain, encoding }) : this.pool.encode(plain, level, { transfer: true });
    const p = encoded.then(async (e) => {
      const ref = await this.packs.add(sha, size, e.stored, e.encoding);
      this.recycle(e.stored); // the pack copied it; its buffer is the read buffer, free for the next piece
      return ref;
    });
    this.pending.set(sha, p);
    return p;
  }
}
