// The one narrow storage interface that fs, memory and (later) S3 stores implement; keys are "/"-separated relative paths.
import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";

export interface ObjectInfo {
  key: string;
  size: number;
  /** Last modification time. */
  modified: Date;
  /** Opaque version tag (mtime+size+inode on fs, a counter in memory, ETag on S3); changes on every write. */
  version: string;
}

export interface PutOptions {
  /**
   * Hex SHA-256 of a Buffer body. A store that can have its server check it (S3: x-amz-checksum-sha256) sends it,
   * and the put fails instead of storing different bytes; `validatesChecksums` tells which stores do.
   */
  sha256?: string;
  /**
   * Store only if no object exists at `key`; otherwise write nothing and throw ObjectExistsError. Keys written once
   * (manifests, v1 archives, v2 packs) use it: on S3 it is If-None-Match: *, and the bucket policy refuses their puts
   * without it (infra/store-policy.ts), so no role can replace a backup's objects.
   */
  ifAbsent?: boolean;
  /**
   * Replace only the object whose version (ObjectInfo.version) is this; otherwise write nothing and throw ConflictError,
   * also when it is gone. On S3 it is If-Match: <ETag>, the only replace the bucket policy allows on manifests (repack
   * points them at new packs); on fs a check just before the rename (best effort: a narrow race remains, as for delete).
   */
  ifVersion?: string;
}

export interface Storage {
  /** Human-readable location, e.g. "/var/backups" or "s3://bucket/prefix". */
  readonly description: string;
  /**
   * Stores the stream under `key`, replacing any object there. Atomic: readers see the old object or the
   * complete new one, never a partial one. If the stream errors, nothing is stored and the error is rethrown.
   */
  put(key: string, body: Readable | Buffer | string, opts?: PutOptions): Promise<ObjectInfo>;
  /** True when put() has the server verify `opts.sha256`, so a writer need not read the object back. */
  readonly validatesChecksums?: boolean;
  /**
   * Stores `body` only if no object exists at `key`. Returns false (and writes nothing) when one exists.
   * This is the primitive behind locks and one-backup-per-slot.
   */
  createExclusive(key: string, body: Buffer | string): Promise<boolean>;
  /** A stream of the object, or of bytes [start, end] inclusive. Throws NotFoundError if absent. */
  get(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * The object's own file opened for reading, for a reader that reads many pieces of it in place (the fs store, where
   * a stream would copy every byte through the main thread). Stores without files leave this out. Throws NotFoundError.
   */
  openFile?(key: string): Promise<FileHandle>;
  /** The whole object as a Buffer; only for small objects (manifests, audit records, locks). Throws NotFoundError. */
  getBuffer(key: string): Promise<Buffer>;
  /** Object info, or null if absent. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** All objects whose key starts with `prefix`, sorted by key. Empty if none. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * Removes the object. Idempotent: deleting an absent key succeeds. With `ifVersion`, deletes only if the
   * object's current version equals it and returns false otherwise (best effort on fs: a narrow race remains).
   */
  delete(key: string, opts?: { ifVersion?: string }): Promise<boolean>;
  /**
   * A cheap value that changes whenever list(prefix) would answer differently: a key added or removed, an object
   * replaced or rewritten through this interface by any process. `prefix` ends in "/". null when the store cannot
   * vouch for it right now (the fs store, while a folder changed within the last moments); stores whose listing is
   * as cheap as any token (S3: one request per 1,000 keys, with ETags) leave it out. Callers that cache a listing by
   * it (core/catalog-listing.ts) must treat null as "changed". On fs, an object rewritten in place by hand (not
   * through put/delete: same inode, folder untouched) does not change it.
   */
  listingToken?(prefix: string): Promise<string | null>;
  /** Bytes used by all objects under `prefix` (default: everything). */
  usage?(prefix?: string): Promise<number>;
  /** Removes temp files that writers which have since died left behind (fs store); returns their names. */
  cleanTempDir?(): Promise<string[]>;
  /** Labels an existing object (S3 object tags); stores without tags leave this out. NotFoundError if absent. */
  setTags?(key: string, tags: Record<string, string>): Promise<void>;
}
