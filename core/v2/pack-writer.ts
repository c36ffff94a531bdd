// Packs new blobs into objects of a few MiB, named by their own SHA-256, uploads them in parallel and proves each arrived.
import { ChecksumMismatchError, ObjectExistsError } from "../errors.ts";
import type { BlobRef } from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { sha256Hex, type Encoding } from "./blob-codec.ts";
import { addPhase, timePhase } from "./phase-clock.ts";
import { noteMainGarbage } from "./thread-gc.ts";

/** A pack is sealed once it holds this much: few requests per byte, yet small enough to hold a few in memory. */
export const PACK_TARGET = 4 * 1024 * 1024;
/** Room for one more piece past the target (a stored piece is never larger than its 1 MiB plaintext). */
const PACK_CAPACITY = PACK_TARGET + 1024 * 1024;
/** A pack is read back this much at a time (readBackInto): a handful of reads per pack. */
const READ_BACK_BYTES = 1024 * 1024;
/** Sealed packs uploading at once; memory is bounded by PACK_CAPACITY * (UPLOADS + 2). */
const UPLOADS = 3;

export const packKey = (sha256: string) => `data/packs/${sha256.slice(0, 2)}/${sha256}.pack`;

export interface PackStats { packs: number; bytes: number; blobs: number }

export class PackWriter {
  /** The open pack: pieces are copied in, so a pack's buffer is reused once uploaded instead of becoming garbage. */
  private body: Buffer | undefined;
  private size = 0;
  /** Refs of the open pack: their `pack` key is filled in when it is sealed (the key is the pack's hash). */
  private waiting: BlobRef[] = [];
  private readonly spare: Buffer[] = [];
  /** Read-back buffers, one per upload in flight at most (readBackInto). */
  private readonly readBuffers: Buffer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  readonly stats: PackStats = { packs: 0, bytes: 0, blobs: 0 };

  constructor(private readonly storage: Storage) {}

  /** Adds a stored blob (copied: the caller may reuse `stored`); the returned ref is complete once finish() resolves. */
  async add(sha256: string, plainSize: number, stored: Buffer, encoding: Encoding): Promise<BlobRef> {
    if (this.failure) throw this.failure;
    if (stored.length > PACK_CAPACITY) throw new Error(`pack blob ${sha256}: ${stored.length} bytes do not fit a pack`);
    if (this.size + stored.length > PACK_CAPACITY) await this.seal();
    this.body ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(PACK_CAPACITY);
    const ref: BlobRef = { sha256, size: plainSize, pack: "", offset: this.size, length: stored.length, encoding };
    const tc = performance.now();
    stored.copy(this.body, this.size);
    addPhase("copy into pack (main)", performance.now() - tc);
    this.size += stored.length;
    this.waiting.push(ref);
    this.stats.blobs++;
    if (this.size >= PACK_TARGET) await this.seal();
    return ref;
  }

  /** Seals the open pack and waits for every upload; throws the first upload failure. */
  async finish(): Promise<void> {
    if (this.size > 0) await this.seal();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Waits for every upload already started, whatever its outcome: after a failure, nothing writes behind the caller. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight);
  }

  /** Closes the open pack at once (later adds start a new one), then waits for an upload slot to send it. */
  private async seal(): Promise<void> {
    if (this.size === 0 || !this.body) return;
    const full = this.body;
    const body = full.subarray(0, this.size);
    const refs = this.waiting;
    this.body = undefined;
    this.waiting = [];
    this.size = 0;
    await timePhase("wait for upload slot", async () => {
      while (this.inFlight.size >= UPLOADS) await Promise.race(this.inFlight);
    });
    if (this.failure) throw this.failure;
    const ts = performance.now();
    const sha = sha256Hex(body);
    addPhase("sha256 of pack (main)", performance.now() - ts);
    const key = packKey(sha);
    for (const ref of refs) ref.pack = key;
    this.stats.packs++;
    this.stats.bytes += body.length;
    const upload = this.upload(key, body, sha).then(
      () => { if (this.spare.length < UPLOADS) this.spare.push(full); },
      (err) => { this.failure ??= err; },
    );
    const tracked = upload.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Verified on the way in: S3 checks the SHA-256 we send; other stores are read back and hashed. */
  private async upload(key: string, body: Buffer, sha: string): Promise<void> {
    try {
      // Never replaces a pack: on S3 the bucket policy refuses a pack put without If-None-Match (infra/store-policy.ts).
      await timePhase("put pack (write+fsync)", () => this.storage.put(key, body, { sha256: sha, ifAbsent: true }));
    } catch (err) {
      // A pack is named by the SHA-256 of its bytes, so the one already there should hold exactly these; off S3 it is
      // still read back below, so a damaged copy (which may not be replaced) fails this backup instead of being relied on.
      if (!(err instanceof ObjectExistsError)) throw err;
    }
    if (this.storage.validatesChecksums) return;
    // Compared with the bytes in hand, whose SHA-256 names the pack: equal bytes have that hash, and a compare costs a
    // fraction of hashing them again (250 MB of packs on a first backup of the bench CRM).
    const tv = performance.now();
    const differs = this.storage.openFile ? await this.readBackInto(key, body) : await this.readBackWhole(key, body);
    addPhase("read back pack", performance.now() - tv);
    if (differs) throw new ChecksumMismatchError(`verify stored pack ${key}: ${differs}; check the backup disk`);
  }

  /**
   * A filesystem store's pack read back READ_BACK_BYTES at a time into one buffer per upload slot, reused: reading it
   * whole allocated a new 4-5 MiB buffer per pack (250 MB on the bench's first backup), each a page-faulted allocation
   * plus a forced minor collection every few packs. A few large reads, not a stream's 64 KiB ones: each is a trip
   * through libuv's four threads, queued behind the files' reads and the packs' fsyncs.
   */
  private async readBackInto(key: string, body: Buffer): Promise<string | null> {
    const fh = await this.storage.openFile!(key);
    const buf = this.readBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_BACK_BYTES);
    try {
      let at = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        if (bytesRead === 0) break;
        if (at + bytesRead > body.length) return `read back more than the ${body.length} bytes written`;
        if (!buf.subarray(0, bytesRead).equals(body.subarray(at, at + bytesRead))) return `the bytes read back at offset ${at} differ from the ones written`;
        at += bytesRead;
      }
      return at === body.length ? null : `read back ${at} bytes of the ${body.length} written`;
    } finally {
      this.readBuffers.push(buf);
      await fh.close();
    }
  }

  /** Other stores without checksums (memory): the object whole, compared. */
  private async readBackWhole(key: string, body: Buffer): Promise<string | null> {
    const back = await this.storage.getBuffer(key);
    const same = back.equals(body);
    noteMainGarbage(back.length);
    return same ? null : `read back ${back.length} bytes that differ from the ${body.length} written`;
  }
}
