// A Storage wrapper that counts requests, so every v2 backup can report what it cost in S3 calls.
import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { ObjectInfo, PutOptions, Storage } from "../storage/storage.ts";

export class CountingStorage implements Storage {
  requests = 0;
  /** Present when the inner store has it (a filesystem store): a pack's read-back then reads into a reused buffer. */
  readonly openFile?: (key: string) => Promise<FileHandle>;
  constructor(private readonly inner: Storage) {
    if (inner.openFile) this.openFile = (key) => this.count(inner.openFile!(key));
  }
  get description() { return this.inner.description; }
  get validatesChecksums() { return this.inner.validatesChecksums; }
  private count<T>(p: Promise<T>): Promise<T> {
    this.requests++;
    return p;
  }
  put(key: string, body: Readable | Buffer | string, opts?: PutOptions): Promise<ObjectInfo> { return this.count(this.inner.put(key, body, opts)); }
  createExclusive(key: string, body: Buffer | string) { return this.count(this.inner.createExclusive(key, body)); }
  get(key: string, range?: { start: number; end: number }) { return this.count(this.inner.get(key, range)); }
  getBuffer(key: string) { return this.count(this.inner.getBuffer(key)); }
  stat(key: string) { return this.count(this.inner.stat(key)); }
  list(prefix: string) { return this.count(this.inner.list(prefix)); }
  delete(key: string, opts?: { ifVersion?: string }) { return this.count(this.inner.delete(key, opts)); }
}
