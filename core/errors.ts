// Named error classes: each says what went wrong and how to fix it; callers map them to exit codes and HTTP statuses.

export class BackupError extends Error {
  /** A stable machine-readable code, e.g. "not_found". */
  readonly code: string = "backup_error";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad configuration or usage: the user must change an input. CLI exit 2; HTTP 503 (the server is misconfigured, not the request). */
export class ConfigError extends BackupError {
  override readonly code = "config_error";
}

/** Bad input to an operation (unknown component, wrong confirm token...). HTTP 400. */
export class ValidationError extends BackupError {
  override readonly code = "validation_error";
}

/** A backup, job or stored object does not exist. HTTP 404. */
export class NotFoundError extends BackupError {
  override readonly code = "not_found";
}

/** Another backup or restore holds the store lock. HTTP 409. */
export class ConflictError extends BackupError {
  override readonly code = "conflict";
  constructor(message: string, readonly holder?: unknown) {
    super(message);
  }
}

/** A put with `ifAbsent` found an object at its key: keys written once (manifests, archives, packs) are never replaced. */
export class ObjectExistsError extends ConflictError {}

/** Stored bytes do not match the recorded SHA-256. */
export class ChecksumMismatchError extends BackupError {
  override readonly code = "checksum_mismatch";
}

/** An archive entry breaks a safety rule; nothing outside staging was written. */
export class UnsafeArchiveError extends BackupError {
  override readonly code = "unsafe_archive";
}

/** The SQLite source cannot be captured safely or its snapshot failed integrity_check. */
export class DatabaseError extends BackupError {
  override readonly code = "database_error";
}

/** The store holds something that cannot be read as what it should be (a damaged manifest, an unreadable record). HTTP 500 naming the key. */
export class StoreError extends BackupError {
  override readonly code = "store_error";
}

/** A disk filled up; the message names the folder whose disk is full and how much is free. */
export class DiskFullError extends BackupError {
  override readonly code = "disk_full";
}

/** A restore step failed; `rolledBack` tells whether live data was put back as it was. */
export class RestoreError extends BackupError {
  override readonly code = "restore_failed";
  constructor(message: string, readonly rolledBack: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
