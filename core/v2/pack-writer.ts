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
    // Read whole, not streamed: a stream's 64 KiB reads are 64 trips through libuv's four threads per pack, queued behind
    // the files' reads and the packs' fsyncs, which made the read-back the slowest step of a pack (0.5 s of 0.8 s on the
    // loaded bench machine). The copy is transient and at most one per upload slot.
    // Compared with the bytes in hand, whose SHA-256 names the pack: equal bytes have that hash, and a compare costs a
    // fraction of hashing them again (250 MB of packs on a first backup of the bench CRM).
    const tv = performance.now();
    const back = await this.storage.getBuffer(key);
    const same = back.equals(body);
    noteMainGarbage(back.length);
    addPhase("read back pack", performance.now() - tv);
    if (!same) {
      throw new ChecksumMismatchError(`verify stored pack ${key}: read back ${back.length} bytes that differ from the ${body.length} written; check the backup disk`);
    }
  }
}
