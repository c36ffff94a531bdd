// Packs of a store kept on files, opened once each so verify threads read pieces from them in place.
import type { FileHandle } from "node:fs/promises";
import { ChecksumMismatchError } from "../errors.ts";
import type { Storage } from "../storage/storage.ts";

/** Pack files open at once; one with a piece still queued on a thread stays open past this. */
const OPEN_LIMIT = 16;

interface Open { fh: Promise<FileHandle>; users: number }

/**
 * A thread given a descriptor reads the piece itself (pread into a reused buffer), so no pack passes through the main
 * thread: there it cost a stream copy, a second copy per piece and most of the main thread's garbage collection. A
 * descriptor is closed only once no piece sent with it is still queued (a reused number would read another file).
 */
export class PackFiles {
  private readonly open = new Map<string, Open>();

  private constructor(private readonly storage: Storage & Required<Pick<Storage, "openFile">>) {}

  /** Null when the store has no files to read in place (S3, memory): pieces are then read through PackReader. */
  static of(storage: Storage): PackFiles | null {
    return storage.openFile ? new PackFiles(storage as Storage & Required<Pick<Storage, "openFile">>) : null;
  }

  /** The pack's descriptor, held until `release(key)`: a missing pack fails as PackReader does. */
  async acquire(key: string): Promise<number> {
    let o = this.open.get(key);
    if (o) {
      this.open.delete(key); // most recently used last
      this.open.set(key, o);
    } else {
      const fh = this.storage.openFile(key).catch((err) => {
        this.open.delete(key);
        throw new ChecksumMismatchError(`read pack ${key}: ${(err as Error).message}; the store is missing data this backup needs, pick another backup`, { cause: err });
      });
      fh.catch(() => undefined);
      o = { fh, users: 0 };
      this.open.set(key, o);
    }
    o.users++;
    try {
      return (await o.fh).fd;
    } catch (err) {
      o.users--;
      throw err;
    }
  }

  release(key: string): void {
    const o = this.open.get(key);
    if (o) o.users--;
    this.trim();
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((o) => o.fh.then((fh) => fh.close(), () => undefined)));
  }

  private trim(): void {
    if (this.open.size <= OPEN_LIMIT) return;
    for (const [key, o] of this.open) {
      if (this.open.size <= OPEN_LIMIT) break;
      if (o.users > 0) continue;
      this.open.delete(key);
      void o.fh.then((fh) => fh.close(), () => undefined);
    }
  }
}
