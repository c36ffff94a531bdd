// The backup manifest: its zod schema, the field names other tools read, and the backup types and components.
import { z } from "zod";

export const MANIFEST_FORMAT_VERSION = 1;

export const SCHEDULED_TYPES = ["daily", "weekly", "monthly"] as const;
export const BACKUP_TYPES = ["daily", "weekly", "monthly", "manual", "pre-restore"] as const;
export const COMPONENTS = ["database", "uploads", "config", "logs"] as const;

export type ScheduledType = (typeof SCHEDULED_TYPES)[number];
export type BackupType = (typeof BACKUP_TYPES)[number];
export type ComponentName = (typeof COMPONENTS)[number];

export const BackupTypeSchema = z.enum(BACKUP_TYPES);

/** One file inside the archive. `path` is the archive entry name, e.g. "uploads/a/b.png" or "logs/app.log.gz". */
export const FileEntrySchema = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.number().int().nonnegative(),
  mtime: z.string().optional(),
  /** For logs: the size of the original, uncompressed .log file. */
  originalSize: z.number().int().nonnegative().optional(),
});

export const DatabaseFactsSchema = z.object({
  sourcePath: z.string(),
  /** v1 snapshots use VACUUM INTO; v2 uses the online backup API, which keeps page positions so chunks dedupe. */
  method: z.enum(["vacuum-into", "backup-api"]),
  integrityCheck: z.string(),
  journalMode: z.string(),
  pageSize: z.number().int().positive(),
  pageCount: z.number().int().nonnegative(),
  tables: z.record(z.string(), z.number().int().nonnegative()),
});

export const ComponentRecordSchema = z.object({
  status: z.enum(["included", "missing"]),
  /** Why the component is missing, e.g. "no logs folder at /crm/logs". */
  note: z.string().optional(),
  fileCount: z.number().int().nonnegative(),
  totalSize: z.number().int().nonnegative(),
  files: z.array(FileEntrySchema),
  database: DatabaseFactsSchema.optional(),
});

export const ManifestSchema = z.object({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  tool: z.string(),
  id: z.string(),
  name: z.string(),
  type: BackupTypeSchema,
  description: z.string(),
  createdAt: z.string(),
  completedAt: z.string().optional(),
  scheduledAt: z.string().optional(),
  host: z.string(),
  components: z.record(z.string(), ComponentRecordSchema),
  /** Only in the copy stored beside the archive: the archive is hashed after it is written. */
  archive: z
    .object({
      key: z.string(),
      sizeBytes: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      verifiedAt: z.string(),
    })
    .optional(),
});

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();

/** Format v2 (core/v2/FORMAT.md): one stored blob, once per store inside a pack object. */
export const StoredBlobSchema = z.object({
  /** SHA-256 of the plaintext piece: its name, and what every reader checks. */
  sha256: sha256Hex,
  size: count,
  pack: z.string().regex(/^data\/packs\/[0-9a-f]{2}\/[0-9a-f]{64}\.pack$/),
  offset: count,
  /** Stored bytes in the pack: a gzip member, or the plaintext itself when raw. */
  length: count,
  encoding: z.enum(["gzip", "raw"]),
});

/**
 * One database page laid over a piece's base (core/v2/db-pieces.ts): bytes `from` to `from + length` of the bundle's
 * plaintext are a raw deflate stream whose preset dictionary is the base's page at `at`; inflated, they are the `size`
 * bytes that replace the piece's from `at` (relative to the piece, so a record means the same wherever it is used).
 */
export const PagePatchSchema = z.object({ at: count, size: count, from: count, length: count, bundle: StoredBlobSchema });

/**
 * One piece of a file. Without `patches` the stored blob is the piece (`sha256` its plaintext's hash). With them (database
 * pieces only) the stored blob is the base, whose plaintext hashes to `base`, and the piece is that base with each
 * patch's page laid over it; `sha256` is the assembled piece's hash.
 */
export const BlobRefSchema = StoredBlobSchema.extend({
  base: sha256Hex.optional(),
  patches: z.array(PagePatchSchema).optional(),
});

/** A live file's size, mtime, ctime (ns) and inode; equal next time means "not changed". */
export const FileIdentitySchema = z.object({ size: count, mtimeNs: z.string(), ctimeNs: z.string(), ino: z.string() });

/** A v2 file: the v1 entry plus its pieces in order, and the source's identity for change detection. */
export const FileEntryV2Schema = FileEntrySchema.extend({
  blobs: z.array(BlobRefSchema),
  /** The live file's identity when it was read. */
  source: FileIdentitySchema.optional(),
  /**
   * Logs only: the SHA-256 of the .log before it was gzipped (`sha256` is the .gz's), so a log whose identity changed
   * but whose bytes did not (a copy of the CRM, a weekly re-read) reuses this record instead of being gzipped again.
   */
  originalSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});

/**
 * The live database's identity taken just before it was snapshotted (core/v2/db-reuse.ts): the database file and its
 * -wal (null when absent or empty). A later backup finding both equal reuses the record instead of snapshotting again.
 */
export const LiveDatabaseSourceSchema = z.object({ db: FileIdentitySchema, wal: FileIdentitySchema.nullable() });

export const ComponentRecordV2Schema = ComponentRecordSchema.extend({
  files: z.array(FileEntryV2Schema),
  /** Database component only, and only when the identity was settled (not written within the last moments). */
  liveSource: LiveDatabaseSourceSchema.optional(),
});

/** What a v2 backup cost: it has no archive, so this takes the place of archive.sizeBytes in listings. */
export const StoredSummarySchema = z.object({
  /** Stored bytes of every blob the backup references (what a restore reads). */
  referencedBytes: count,
  referencedBlobs: count,
  /** What this backup added to the store: new packs, their bytes and blobs. */
  bytesAdded: count,
  blobsAdded: count,
  packsAdded: count,
  /** Storage requests the backup made (puts, gets, lists, stats). */
  requests: count,
  filesRead: count,
  filesReused: count,
  previousId: z.string().optional(),
  verifiedAt: z.string(),
});

export const MANIFEST_FORMAT_V2 = 2;

export const ManifestV2Schema = ManifestSchema.omit({ formatVersion: true, components: true, archive: true }).extend({
  formatVersion: z.literal(MANIFEST_FORMAT_V2),
  components: z.record(z.string(), ComponentRecordV2Schema),
  stored: StoredSummarySchema.optional(),
});

/** Every manifest a store may hold: today's archives (1) and content-addressed backups (2). */
export const AnyManifestSchema = z.discriminatedUnion("formatVersion", [ManifestSchema, ManifestV2Schema]);

export type BlobRef = z.infer<typeof BlobRefSchema>;
export type StoredBlob = z.infer<typeof StoredBlobSchema>;
export type PagePatch = z.infer<typeof PagePatchSchema>;
export type FileEntryV2 = z.infer<typeof FileEntryV2Schema>;
export type FileIdentity = z.infer<typeof FileIdentitySchema>;
export type LiveDatabaseSource = z.infer<typeof LiveDatabaseSourceSchema>;
export type ComponentRecordV2 = z.infer<typeof ComponentRecordV2Schema>;
export type StoredSummary = z.infer<typeof StoredSummarySchema>;
export type ManifestV2 = z.infer<typeof ManifestV2Schema>;
export type StoredManifestV2 = ManifestV2 & { stored: StoredSummary };

export type FileEntry = z.infer<typeof FileEntrySchema>;
export type DatabaseFacts = z.infer<typeof DatabaseFactsSchema>;
export type ComponentRecord = z.infer<typeof ComponentRecordSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
/** A v1 manifest that has been stored beside a verified archive. */
export type StoredManifestV1 = Manifest & { archive: NonNullable<Manifest["archive"]> };
/** A listed backup of either format; narrow on formatVersion before reading `archive` or `stored`. */
export type StoredManifest = StoredManifestV1 | StoredManifestV2;

/** Bytes a backup occupies for listings: the archive's size (v1), or the stored bytes it references (v2). */
export const backupSizeBytes = (m: Pick<StoredManifestV1, "formatVersion" | "archive"> | Pick<StoredManifestV2, "formatVersion" | "stored">): number =>
  m.formatVersion === 1 ? m.archive.sizeBytes : m.stored.referencedBytes;
/** Bytes deleting the backup frees now: v2 blobs stay until garbage collection (a later change) removes them. */
export const backupFreedBytes = (m: Pick<StoredManifestV1, "formatVersion" | "archive"> | Pick<StoredManifestV2, "formatVersion" | "stored">): number =>
  m.formatVersion === 1 ? m.archive.sizeBytes : 0;
/** The archive's SHA-256 (v1); v2 backups have no single archive, each blob carries its own. */
export const backupSha256 = (m: Pick<StoredManifestV1, "formatVersion" | "archive"> | Pick<StoredManifestV2, "formatVersion">): string | null =>
  m.formatVersion === 1 ? m.archive.sha256 : null;

/** Entry names inside every archive. */
export const MANIFEST_ENTRY = "manifest.json";
export const RESTORE_GUIDE_ENTRY = "RESTORE.txt";
/** The database snapshot's entry name inside the archive. */
export const DATABASE_ENTRY = "database/dev.db";
