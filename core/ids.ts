// Backup ids and store keys: "<type>-<UTC stamp>-<random>", parsed back to find a backup's type without listing.
import { randomBytes } from "node:crypto";
import { ValidationError } from "./errors.ts";
import { BACKUP_TYPES, type BackupType } from "./manifest.ts";

const ID_PATTERN = new RegExp(`^(${BACKUP_TYPES.join("|")})-(\\d{8}T\\d{6}Z)-([0-9a-f]{6})$`);

export function newBackupId(type: BackupType, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return `${type}-${stamp}-${randomBytes(3).toString("hex")}`;
}

/** The backup type encoded in an id; throws ValidationError for anything that is not one of our ids. */
export function typeOfId(id: string): BackupType {
  const m = ID_PATTERN.exec(id);
  if (!m) throw new ValidationError(`backup id "${id}" is not valid: expected <type>-<YYYYMMDDTHHMMSSZ>-<6 hex>, e.g. daily-20261126T020000Z-1a2b3c (see \`colab-backup list\`)`);
  return m[1] as BackupType;
}

export const isBackupId = (id: string): boolean => ID_PATTERN.test(id);

export const archiveKey = (id: string) => `${typeOfId(id)}/${id}.tar.gz`;
export const manifestKey = (id: string) => `${typeOfId(id)}/${id}.json`;

/** A backup's "started, not finished" marker: written before its archive, removed after its manifest. */
export const PENDING_PREFIX = "pending/";
export function pendingKey(id: string): string {
  typeOfId(id);
  return `${PENDING_PREFIX}${id}.json`;
}

export const LOCK_KEY = "locks/store.lock";
export const slotKey = (type: BackupType, scheduledAt: Date) => `slots/${type}/${scheduledAt.toISOString().replace(/[:.]/g, "-")}.json`;
export const auditKey = (at: Date, suffix: string) => `audit/${at.toISOString().replace(/[:.]/g, "-")}-${suffix}.json`;
