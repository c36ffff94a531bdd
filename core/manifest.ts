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
  method: z.literal("vacuum-into"),
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

export type FileEntry = z.infer<typeof FileEntrySchema>;
export type DatabaseFacts = z.infer<typeof DatabaseFactsSchema>;
export type ComponentRecord = z.infer<typeof ComponentRecordSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
/** A manifest that has been stored beside a verified archive. */
export type StoredManifest = Manifest & { archive: NonNullable<Manifest["archive"]> };

/** Entry names inside every archive. */
export const MANIFEST_ENTRY = "manifest.json";
export const RESTORE_GUIDE_ENTRY = "RESTORE.txt";
/** The database snapshot's entry name inside the archive. */
export const DATABASE_ENTRY = "database/dev.db";
