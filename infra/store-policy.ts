// Who may write and delete which store keys, and the bucket policy no role can get around, as data from the store layout (core/v2/FORMAT.md); pure, so test/aws-store-policy.test.ts checks it.
import { BACKUP_TYPES } from "../core/manifest.ts";

/** Key patterns below the store prefix (core/ids.ts, core/v2/, core/jobs/records.ts, core/export-object.ts). */
export const STORE_KEYS = {
  /** <type>/<id>.json manifests and v1 <type>/<id>.tar.gz archives: a backup. Written once. */
  backups: BACKUP_TYPES.map((t) => `${t}/*`),
  /** v2 packs, data/packs/<aa>/<sha256>.pack: named by their content. Written once. */
  data: ["data/*"],
  /** The v2 store's hand-restore guide, rewritten when the tool's text changes. */
  guide: ["RESTORE.txt"],
  /** The catalog index (core/catalog-index.ts): listings' cache of manifest summaries, rewritten by backups and listings. */
  catalog: ["catalog/*"],
  pending: ["pending/*"],
  locks: ["locks/*"],
  slots: ["slots/*"],
  audit: ["audit/*"],
  jobs: ["jobs/*"],
  status: ["status/*"],
  /** Download copies of v2 backups; the lifecycle rule expires them after a day (infra/storage.ts). */
  exports: ["exports/*"],
} as const;

/** Keys that hold backup data: created once with If-None-Match: * (the bucket policy below). */
export const IMMUTABLE = [...STORE_KEYS.backups, ...STORE_KEYS.data];
/**
 * Manifests, the one kind of backup data that may also be replaced, and only with If-Match naming the version read:
 * repacking (core/v2/repack.ts) points a manifest at the copies of its blobs. The bucket is versioned, so the
 * replaced manifest stays as a noncurrent version, as a deleted one does.
 */
export const REPLACEABLE = BACKUP_TYPES.map((t) => `${t}/*.json`);
/** Backup data never replaced: archives and packs (named by their content) and repack records. */
export const NEVER_REPLACED = [...BACKUP_TYPES.map((t) => `${t}/*.tar.gz`), ...STORE_KEYS.data];

export type Role = "backup" | "worker" | "cleanup" | "api" | "notifier";

const SCHEDULED_TYPES = ["daily", "weekly", "monthly"] as const;
/** Bookkeeping every function that takes the store lock touches: the lock, audit records, and job records (restore recovery settles them). */
const underLock = [...STORE_KEYS.locks, ...STORE_KEYS.audit, ...STORE_KEYS.jobs, ...STORE_KEYS.catalog];

/**
 * s3:PutObject per role (multipart and conditional creates included), below the store prefix. The notifier only records
 * its last send; the API records jobs and audit entries, takes the lock (delete), and saves the test email's result.
 */
export const PUT_KEYS: Record<Role, readonly string[]> = {
  // Scheduled backups only: daily, weekly, monthly (manual and pre-restore backups run on the worker).
  backup: [...SCHEDULED_TYPES.map((t) => `${t}/*`), ...STORE_KEYS.data, ...STORE_KEYS.guide, ...STORE_KEYS.pending, ...STORE_KEYS.slots, ...underLock],
  worker: [...STORE_KEYS.backups, ...STORE_KEYS.data, ...STORE_KEYS.guide, ...STORE_KEYS.pending, ...STORE_KEYS.slots, ...STORE_KEYS.exports, ...underLock],
  // Repacking: new packs and repack records under data/, manifests replaced with If-Match.
  cleanup: [...REPLACEABLE, ...STORE_KEYS.data, ...underLock],
  api: [...underLock, ...STORE_KEYS.status],
  notifier: [...STORE_KEYS.status],
};

/**
 * s3:DeleteObject per role. In the versioned bucket a delete only adds a delete marker: the data stays as a noncurrent
 * version for BACKUP_NONCURRENT_VERSION_DAYS, and no role may delete versions (s3:DeleteObjectVersion is denied to all
 * of them, and in production by the bucket policy to everyone). So "delete" here means "hide, recoverably".
 * - backup, worker: bookkeeping only (lock, slot, pending marker). A partial archive they leave is removed by cleanup.
 * - cleanup: retention (backups, their packs, leftovers, expired exports).
 * - api: DELETE /api/backup/{id}, one backup at a time, audited (the original system's API). It may not delete audit
 *   records, job records or exports, and it cannot make the deletion permanent.
 */
export const DELETE_KEYS: Record<Role, readonly string[]> = {
  backup: [...STORE_KEYS.locks, ...STORE_KEYS.slots, ...STORE_KEYS.pending],
  worker: [...STORE_KEYS.locks, ...STORE_KEYS.slots, ...STORE_KEYS.pending],
  cleanup: [...STORE_KEYS.backups, ...STORE_KEYS.data, ...STORE_KEYS.pending, ...STORE_KEYS.locks, ...STORE_KEYS.slots, ...STORE_KEYS.exports],
  api: [...STORE_KEYS.backups, ...STORE_KEYS.data, ...STORE_KEYS.pending, ...STORE_KEYS.locks],
  notifier: [],
};

/** A statement in the shape sst.aws.Bucket's `policy` takes: `paths` are keys in the bucket ("" is the bucket itself). */
export interface BucketStatement {
  sid: string;
  effect: "allow" | "deny";
  principals: "*";
  actions: string[];
  paths: string[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

/**
 * The bucket policy: rules for every principal, so no role's IAM grant (present or future) can get around them.
 * SST adds its own deny of plain-HTTP requests (`enforceHttps`, on by default).
 * - No overwrite of backup data: PutObject and CompleteMultipartUpload on archives and packs must carry If-None-Match
 *   (s3:ObjectCreationOperation exempts CreateMultipartUpload and UploadPart, which take no conditional headers).
 *   The store sends it (PutOptions.ifAbsent); a put onto an existing key then fails with 412 instead of replacing.
 *   A manifest put must carry If-None-Match or If-Match (PutOptions.ifVersion): a blind overwrite is refused, and a
 *   replace names the exact version it replaces (repack).
 * - protectVersions (production): nobody deletes an object version or changes its retention; only the lifecycle
 *   rule expires noncurrent versions. Other stages leave it out so that `sst remove` can empty their bucket.
 */
export function bucketPolicy(prefix: string, opts: { protectVersions: boolean }): BucketStatement[] {
  const statements: BucketStatement[] = [
    {
      sid: "NoOverwriteOfBackupData",
      effect: "deny",
      principals: "*",
      actions: ["s3:PutObject"],
      paths: NEVER_REPLACED.map((k) => `${prefix}${k}`),
      conditions: [
        { test: "Bool", variable: "s3:ObjectCreationOperation", values: ["true"] },
        { test: "Null", variable: "s3:if-none-match", values: ["true"] },
      ],
    },
    {
      sid: "NoBlindOverwriteOfManifests",
      effect: "deny",
      principals: "*",
      actions: ["s3:PutObject"],
      paths: REPLACEABLE.map((k) => `${prefix}${k}`),
      conditions: [
        { test: "Bool", variable: "s3:ObjectCreationOperation", values: ["true"] },
        { test: "Null", variable: "s3:if-none-match", values: ["true"] },
        { test: "Null", variable: "s3:if-match", values: ["true"] },
      ],
    },
  ];
  if (opts.protectVersions) {
    statements.push({
      sid: "NoVersionDeletes",
      effect: "deny",
      principals: "*",
      actions: ["s3:DeleteObjectVersion", "s3:DeleteObjectVersionTagging", "s3:PutObjectVersionTagging", "s3:BypassGovernanceRetention"],
      paths: ["*"],
    });
  }
  return statements;
}
