// Packs new blobs into objects of a few MiB, named by their own SHA-256, uploads them in parallel and proves each arrived.
import { ChecksumMismatchError } from "../errors.ts";
import type { BlobRef } from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { sha256Hex, type Encoding } from "./blob-codec.ts";

/** A pack is sealed once it holds this much: few requests per byte, yet small enough to hold a few in memory. */
export const PACK_TARGET = 4 * 1024 * 1024;
/** Sealed packs uploading at once; memory is bounded by PACK_TARGET * (UPLOADS + 1) plus one piece. */
const UPLOADS = 3;

export const packKey = (sha256: string) => `data/packs/${sha256.slice(0, 2)}/${sha256}.pack`;

export interface PackStats { packs: number; bytes: number; blobs: number }

export class PackWriter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Refs of the open pack: their `pack` key is filled in when it is sealed (the key is the pack's hash). */
  private waiting: BlobRef[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  readonly stats: PackStats = { packs: 0, bytes: 0, blobs: 0 };

  constructor(private readonly storage: Storage) {}

  /** Adds a stored blob; the returned ref is complete once finish() resolves. */
  async add(sha256: string, plainSize: number, stored: Buffer, encoding: Encoding): Promise<BlobRef> {
    if (this.failure) throw this.failure;
    const ref: BlobRef = { sha256, size: plainSize, pack: "", offset: this.size, length: stored.length, encoding };
    this.parts.push(stored);
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

  private async seal(): Promise<void> {
    while (this.inFlight.size >= UPLOADS) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    if (this.size === 0) return; // another add sealed it while this one waited for an upload slot
    const body = Buffer.concat(this.parts);
    const sha = sha256Hex(body);
    const key = packKey(sha);
    for (const ref of this.waiting) ref.pack = key;
    this.parts = [];
    this.waiting = [];
    this.size = 0;
    this.stats.packs++;
    this.stats.bytes += body.length;
    const upload = this.upload(key, body, sha).catch((err) => {
      this.failure ??= err;
    });
    const tracked = upload.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Verified on the way in: S3 checks the SHA-256 we send; other stores are read back and hashed. */
  private async upload(key: string, body: Buffer, sha: string): Promise<void> {
    await this.storage.put(key, body, { sha256: sha });
    if (this.storage.validatesChecksums) return;
    const chunks: Buffer[] = [];
    for await (const c of await this.storage.get(key)) chunks.push(c as Buffer);
    const back = Buffer.concat(chunks);
    if (back.length !== body.length || sha256Hex(back) !== sha) {
      throw new ChecksumMismatchError(`verify stored pack ${key}: read back ${back.length} bytes that differ from the ${body.length} written; check the backup disk`);
    }
  }
}
