// Turns one local file into its v2 record: reused by metadata when unchanged, else read once, hashed, cut and packed.
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { FileChangedError } from "../archive/write.ts";
import type { BlobRef, FileEntryV2 } from "../manifest.ts";
import { CHUNK_SIZE, GZIP_LEVEL, firstEncoding, sha256Hex, trialEncoding, type Encoding } from "./blob-codec.ts";
import { ByteBudget } from "./bounded.ts";
import type { CompressPool } from "./compress-pool.ts";
import type { PackWriter } from "./pack-writer.ts";

/**
 * Plaintext read but not yet packed, across every file in flight: enough to keep each compression thread fed with a
 * few pieces while the next files are read, and a fixed amount whatever the store's or the CRM's size.
 */
export const budgetFor = (threads: number) => new ByteBudget(Math.max(16, 4 * threads) * CHUNK_SIZE);

export interface FileSource { entry: string; file: string; mode?: number; originalSize?: number }
export interface SourceIdentity { size: number; mtimeNs: string; ctimeNs: string; ino: string; mode: number; mtime: Date }

export async function identify(file: string): Promise<SourceIdentity> {
  const st = await stat(file, { bigint: true });
  return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino), mode: Number(st.mode), mtime: new Date(Number(st.mtimeMs)) };
}

export const sameSource = (a: FileEntryV2["source"], b: SourceIdentity): boolean =>
  !!a && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;

export interface BlobStoreStats { filesRead: number; filesReused: number; bytesRead: number }

export class BlobStore {
  readonly stats: BlobStoreStats = { filesRead: 0, filesReused: 0, bytesRead: 0 };
  private readonly pending = new Map<string, Promise<BlobRef>>();
  private readonly budget: ByteBudget;

  constructor(
    private readonly known: Map<string, BlobRef>, private readonly packs: PackWriter, private readonly pool: CompressPool,
    private readonly onBytes?: (n: number) => void,
  ) {
    this.budget = budgetFor(pool.size);
  }

  /** The previous record when the live file's identity equals it (nothing is opened), else a freshly stored record. */
  async reuseOrStore(src: FileSource, id: SourceIdentity, previous: FileEntryV2 | undefined, rehash: boolean): Promise<FileEntryV2> {
    if (!rehash && previous && sameSource(previous.source, id)) {
      this.stats.filesReused++;
      return previous;
    }
    return this.store(src, id);
  }

  /**
   * Reads exactly the `id.size` bytes measured, in pieces, each hashed as it is read (the file's own hash too when it
   * has more than one piece) and handed to the compression threads without waiting; the byte budget is the only brake.
   * A file that shrank meanwhile fails so the backup is retried.
   */
  async store(src: FileSource, id: SourceIdentity, readFile = src.file, pieceSize = CHUNK_SIZE): Promise<FileEntryV2> {
    if (pieceSize > CHUNK_SIZE) throw new Error(`store ${src.entry}: pieces larger than ${CHUNK_SIZE} bytes cannot be read back`);
    this.stats.filesRead++;
    const whole = id.size > pieceSize ? createHash("sha256") : null;
    let onlySha = sha256Hex(Buffer.alloc(0));
    const refs: Promise<BlobRef>[] = [];
    let encoding: Encoding | undefined;
    try {
      const fh = await open(readFile, "r");
      try {
        for (let pos = 0; pos < id.size; ) {
          const want = Math.min(pieceSize, id.size - pos);
          await this.budget.acquire(want);
          let buf: Buffer;
          try {
            // Its own ArrayBuffer (never a slice of Node's shared pool), so it can move to a worker thread.
            buf = Buffer.allocUnsafeSlow(want);
            let got = 0;
            while (got < want) {
              const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
              if (bytesRead === 0) throw new FileChangedError(`store ${src.entry}: ${src.file} shrank while the backup read it; it probably changed during the backup`);
              got += bytesRead;
            }
            encoding ??= await this.decide(src.entry, buf);
          } catch (err) {
            this.budget.release(want);
            throw err;
          }
          pos += want;
          whole?.update(buf);
          const sha = sha256Hex(buf);
          onlySha = sha;
          const ref = this.piece(sha, buf, encoding).finally(() => this.budget.release(want));
          ref.catch(() => undefined); // handled: a failure surfaces through Promise.all below
          refs.push(ref);
          this.stats.bytesRead += want;
          this.onBytes?.(this.stats.bytesRead);
        }
      } finally {
        await fh.close();
      }
    } catch (err) {
      // Pieces already on their way finish (or fail) before the error leaves, so nothing runs behind a retry.
      await Promise.allSettled(refs);
      throw err;
    }
    const blobs = await Promise.all(refs);
    return {
      path: src.entry, size: id.size, sha256: whole ? whole.digest("hex") : onlySha, mode: (src.mode ?? id.mode) & 0o777, mtime: id.mtime.toISOString(),
      ...(src.originalSize !== undefined ? { originalSize: src.originalSize } : {}),
      blobs, source: { size: id.size, mtimeNs: id.mtimeNs, ctimeNs: id.ctimeNs, ino: id.ino },
    };
  }

  /** A file's encoding from its first piece: by name or entropy, else a fast trial deflate on a compression thread. */
  private async decide(entry: string, first: Buffer): Promise<Encoding> {
    const e = firstEncoding(entry, first);
    if (typeof e === "string") return e;
    const { stored } = await this.pool.encode(e.trial, 1, { orRaw: false, urgent: true });
    return trialEncoding(e.trial.length, stored.length);
  }

  /** A piece already in the store (or already on its way in this run) is referenced, not stored again. */
  private piece(sha: string, plain: Buffer, encoding: Encoding): Promise<BlobRef> {
    const known = this.known.get(sha);
    if (known) return Promise.resolve(known);
    const pending = this.pending.get(sha);
    if (pending) return pending;
    const size = plain.length;
    // Node's gzip header has no name and mtime 0, so a piece always encodes to the same bytes.
    const encoded = encoding === "raw" ? Promise.resolve({ stored: plain, encoding }) : this.pool.encode(plain, GZIP_LEVEL, { transfer: true });
    const p = encoded.then((e) => this.packs.add(sha, size, e.stored, e.encoding));
    this.pending.set(sha, p);
    return p;
  }
}
