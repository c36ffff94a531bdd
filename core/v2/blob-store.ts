// Turns one local file into its v2 record: reused by metadata when unchanged, else read once, hashed, cut and packed.
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { FileChangedError } from "../archive/write.ts";
import type { BlobRef, FileEntryV2 } from "../manifest.ts";
import { CHUNK_SIZE, chooseEncoding, encodeBlob, sha256Hex, type Encoding } from "./blob-codec.ts";
import type { PackWriter } from "./pack-writer.ts";

/** Pieces encoding at once: zlib runs on libuv's pool, so this keeps every core busy without unbounded memory. */
const WINDOW = 4;

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

  constructor(private readonly known: Map<string, BlobRef>, private readonly packs: PackWriter, private readonly onBytes?: (n: number) => void) {}

  /** The previous record when the live file's identity equals it (nothing is opened), else a freshly stored record. */
  async reuseOrStore(src: FileSource, id: SourceIdentity, previous: FileEntryV2 | undefined, rehash: boolean): Promise<FileEntryV2> {
    if (!rehash && previous && sameSource(previous.source, id)) {
      this.stats.filesReused++;
      return previous;
    }
    return this.store(src, id);
  }

  /** Reads exactly the `id.size` bytes measured; a file that shrank meanwhile fails so the backup is retried. */
  async store(src: FileSource, id: SourceIdentity, readFile = src.file, pieceSize = CHUNK_SIZE): Promise<FileEntryV2> {
    if (pieceSize > CHUNK_SIZE) throw new Error(`store ${src.entry}: pieces larger than ${CHUNK_SIZE} bytes cannot be read back`);
    this.stats.filesRead++;
    const whole = createHash("sha256");
    const refs: Promise<BlobRef>[] = [];
    const fh = await open(readFile, "r");
    let encoding: Encoding | undefined;
    try {
      for (let pos = 0; pos < id.size; ) {
        const want = Math.min(pieceSize, id.size - pos);
        const buf = Buffer.allocUnsafe(want);
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
          if (bytesRead === 0) throw new FileChangedError(`store ${src.entry}: ${src.file} shrank while the backup read it; it probably changed during the backup`);
          got += bytesRead;
        }
        pos += want;
        whole.update(buf);
        encoding ??= chooseEncoding(src.entry, buf);
        const ref = this.piece(buf, encoding);
        ref.catch(() => undefined); // handled: a failure surfaces through Promise.all or the window below
        refs.push(ref);
        this.stats.bytesRead += want;
        this.onBytes?.(this.stats.bytesRead);
        // Bound memory: at most WINDOW pieces of this file are held while they encode.
        if (refs.length >= WINDOW) await refs[refs.length - WINDOW];
      }
    } finally {
      await fh.close();
    }
    const blobs = await Promise.all(refs);
    return {
      path: src.entry, size: id.size, sha256: whole.digest("hex"), mode: (src.mode ?? id.mode) & 0o777, mtime: id.mtime.toISOString(),
      ...(src.originalSize !== undefined ? { originalSize: src.originalSize } : {}),
      blobs, source: { size: id.size, mtimeNs: id.mtimeNs, ctimeNs: id.ctimeNs, ino: id.ino },
    };
  }

  /** A piece already in the store (or already on its way in this run) is referenced, not stored again. */
  private piece(plain: Buffer, encoding: Encoding): Promise<BlobRef> {
    const sha = sha256Hex(plain);
    const known = this.known.get(sha);
    if (known) return Promise.resolve(known);
    const pending = this.pending.get(sha);
    if (pending) return pending;
    const p = encodeBlob(plain, encoding).then((e) => this.packs.add(sha, plain.length, e.stored, e.encoding));
    this.pending.set(sha, p);
    return p;
  }
}
