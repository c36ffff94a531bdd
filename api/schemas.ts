// The API's zod schemas: they validate requests and, through @hono/zod-openapi, are the OpenAPI document.
import { z } from "@hono/zod-openapi";
import { isBackupId } from "../core/ids.ts";
import { JOB_ID_PATTERN, JOB_KINDS } from "../core/jobs/records.ts";
import { BACKUP_TYPES, COMPONENTS, ManifestSchema, ManifestV2Schema, SCHEDULED_TYPES } from "../core/manifest.ts";
import { CONFIRM_TOKEN } from "../core/restore.ts";

const CREATABLE_TYPES = [...SCHEDULED_TYPES, "manual"] as const;
const list = (xs: readonly string[]) => xs.join(", ");
const EXAMPLE_ID = "daily-20261126T020000Z-1a2b3c";
const EXAMPLE_JOB_ID = "job-20261126T020000Z-1a2b3c4d";

export const BACKUP_ID_DOC_PATTERN = `^(${BACKUP_TYPES.join("|")})-\\d{8}T\\d{6}Z-[0-9a-f]{6}$`;
const BACKUP_ID_MESSAGE = `must be a backup id: <type>-<YYYYMMDDTHHMMSSZ>-<6 hex>, e.g. ${EXAMPLE_ID} (type is one of ${list(BACKUP_TYPES)})`;

export const BackupId = z
  .string({ error: BACKUP_ID_MESSAGE })
  .refine(isBackupId, { error: BACKUP_ID_MESSAGE })
  // The pattern is for clients reading the document; isBackupId stays the check (core keeps its regex private).
  .openapi({ example: EXAMPLE_ID, description: "<type>-<UTC stamp>-<6 hex>", pattern: BACKUP_ID_DOC_PATTERN });

const Component = z.enum(COMPONENTS, { error: `must be one of ${list(COMPONENTS)}` });

export const BackupIdParams = z.object({ id: BackupId.openapi({ param: { name: "id", in: "path" } }) });

export const JobIdParams = z.object({
  id: z
    .string()
    .regex(JOB_ID_PATTERN, { error: `must be a job id: job-<YYYYMMDDTHHMMSSZ>-<8 hex>, e.g. ${EXAMPLE_JOB_ID}` })
    .openapi({ param: { name: "id", in: "path" }, example: EXAMPLE_JOB_ID }),
});

/** A whole-number query field with a range and a default; the messages name the field and the range. */
export const whole = (name: string, min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number from ${min} to ${max}` })
    .int({ error: `${name} must be a whole number from ${min} to ${max}` })
    .min(min, { error: `${name} must be at least ${min}` })
    .max(max, { error: `${name} must be at most ${max}` })
    .default(fallback)
    .openapi({ example: fallback });

export const ListQuery = z.object({
  type: z.enum(BACKUP_TYPES, { error: `must be one of ${list(BACKUP_TYPES)}` }).optional(),
  page: whole("page", 1, 1_000_000, 1),
  pageSize: whole("pageSize", 1, 200, 50),
});

export const AuditQuery = z.object({ limit: whole("limit", 1, 1000, 100) });

export const CreateBackupBody = z
  .object({
    type: z.enum(CREATABLE_TYPES, { error: `must be one of ${list(CREATABLE_TYPES)} (pre-restore backups are made by restores)` }).default("manual"),
    description: z.string({ error: "must be text" }).max(500, { error: "must be at most 500 characters" }).optional(),
    components: z
      .array(Component, { error: `must be a list of components from ${list(COMPONENTS)}` })
      .min(1, { error: `choose at least one of ${list(COMPONENTS)}, or leave components out for all` })
      .optional(),
  })
  .openapi("CreateBackupRequest");

const IncludePath = z
  .string({ error: "must be a path inside the backup, e.g. uploads/photos" })
  .min(1, { error: "must not be empty; give a path such as uploads/photos" })
  .max(1000, { error: "must be at most 1000 characters" })
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), { error: "must be a relative path inside the backup, without a leading / or .. (e.g. uploads/photos)" });

export const RestoreBody = z
  .object({
    backupId: BackupId,
    components: z
      .array(Component, { error: `must be a list of components from ${list(COMPONENTS)}` })
      .min(1, { error: `choose at least one of ${list(COMPONENTS)}` }),
    confirmToken: z
      .literal(CONFIRM_TOKEN, { error: `must be exactly "${CONFIRM_TOKEN}": a restore replaces live data` })
      .openapi({ description: `The exact text ${CONFIRM_TOKEN}` }),
    include: z
      .array(IncludePath, { error: "must be a list of paths as GET /api/backup/{id}/files shows them" })
      .min(1, { error: "give at least one path, or leave include out to restore the whole components" })
      .max(1000, { error: "give at most 1000 paths; choose a folder to restore everything under it" })
      .optional()
      .openapi({ description: "Only these files or folders (paths as GET /api/backup/{id}/files shows them); other live files stay as they are", example: ["uploads/photos/a.png"] }),
  })
  .openapi("RestoreRequest");

export const CleanupBody = z
  .object({ dryRun: z.boolean({ error: "must be true or false" }).optional() })
  .openapi("CleanupRequest");

// ---- responses

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_error" }),
      message: z.string(),
      fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
    running: z.unknown().optional().openapi({ description: "409 only: the running job, or the lock holder" }),
  })
  .openapi("Error");

export const BackupSummary = z
  .object({
    id: z.string(),
    type: z.enum(BACKUP_TYPES),
    description: z.string(),
    createdAt: z.string(),
    sizeBytes: z.number().int(),
    sha256: z.string(),
    components: z.array(z.string()).openapi({ description: "Components included in the archive" }),
  })
  .openapi("BackupSummary");

export const DamagedManifest = z
  .object({ key: z.string(), id: z.string(), reason: z.string().openapi({ example: "it is not valid JSON (Unexpected token n in JSON at position 1)" }) })
  .openapi("DamagedManifest");
export const OrphanArchive = z
  .object({ key: z.string(), id: z.string().nullable(), sizeBytes: z.number().int(), modified: z.string() })
  .openapi("OrphanArchive");
export const IncompleteBackup = z
  .object({
    id: z.string(),
    marker: z.string(),
    archive: z.object({ key: z.string(), sizeBytes: z.number().int() }).nullable(),
    startedAt: z.string().nullable(),
    pid: z.number().int().nullable(),
    host: z.string().nullable(),
  })
  .openapi("IncompleteBackup");

export const BackupList = z
  .object({
    total: z.number().int(),
    page: z.number().int(),
    pageSize: z.number().int(),
    items: z.array(BackupSummary),
    damaged: z.array(DamagedManifest).openapi({ description: "Manifests that cannot be read; not counted in total" }),
    orphans: z.array(OrphanArchive).openapi({ description: "Archives with no manifest and no running backup" }),
    incomplete: z.array(IncompleteBackup).openapi({ description: "Backups that started and never finished" }),
  })
  .openapi("BackupList");

export const JobAccepted = z.object({ jobId: z.string(), backupId: z.string() }).openapi("JobAccepted");
export const CleanupAccepted = z.object({ jobId: z.string() }).openapi("CleanupAccepted");

export const JobSchema = z
  .object({
    id: z.string(),
    kind: z.enum(JOB_KINDS),
    state: z.enum(["queued", "running", "succeeded", "failed"]),
    actor: z.string(),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    /** The worker's heartbeat; a queued or running job silent past the deadline is reported failed, code worker_lost. */
    updatedAt: z.string().optional(),
    backupId: z.string().optional(),
    request: z.record(z.string(), z.unknown()),
    progress: z.object({ phase: z.string(), done: z.number(), total: z.number() }).optional(),
    result: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .openapi("Job");

// Rebuilt from core's shape: core's schema may be created before zod is extended with .openapi(), depending on import order.
export const Manifest = z.discriminatedUnion("formatVersion", [z.object(ManifestSchema.shape), z.object(ManifestV2Schema.shape)]).openapi("Manifest");

export const DeleteResult = z
  .object({ id: z.string(), freedBytes: z.number().int(), kind: z.enum(["backup", "damaged", "orphan", "incomplete"]) })
  .openapi("DeleteResult");

const Decision = z.object({ id: z.string(), type: z.enum(BACKUP_TYPES), createdAt: z.string(), reason: z.string() });
export const CleanupOutcome = z
  .object({
    dryRun: z.boolean(),
    keep: z.array(Decision),
    remove: z.array(Decision),
    removed: z.array(z.string()),
    freedBytes: z.number().int(),
    leftoversRemoved: z.array(z.string()),
    damaged: z.array(DamagedManifest),
    orphansRemoved: z.array(OrphanArchive),
    orphansKept: z.array(OrphanArchive.extend({ removableAfter: z.string() })),
    packs: z.object({
      blockedBy: z.string().nullable(),
      packsRemoved: z.array(z.string()),
      freedBytes: z.number().int(),
      packsKeptYoung: z.number().int(),
      packsKeptRepacked: z.number().int(),
      packsReferenced: z.number().int(),
      partlyReferenced: z.object({ packs: z.number().int(), unreferencedBytes: z.number().int() }),
      failures: z.array(z.string()),
    }),
    repack: z.object({
      blockedBy: z.string().nullable(),
      packsRepacked: z.array(z.string()),
      packBytes: z.number().int(),
      rewrittenBytes: z.number().int(),
      freeableBytes: z.number().int(),
      packsWritten: z.number().int(),
      manifestsRewritten: z.number().int(),
      damagedPacks: z.array(z.string()),
      failures: z.array(z.string()),
    }),
  })
  .openapi("CleanupOutcome");

export const AuditRecord = z
  .object({
    at: z.string(),
    actor: z.string(),
    action: z.enum(["backup", "restore", "delete", "cleanup", "verify", "test-email"]),
    backupId: z.string().optional(),
    components: z.array(z.string()).optional(),
    result: z.enum(["succeeded", "failed", "rolled-back"]),
    detail: z.record(z.string(), z.unknown()).optional(),
    error: z.string().optional(),
  })
  .openapi("AuditRecord");

export const AuditList = z.object({ items: z.array(AuditRecord) }).openapi("AuditList");

export const EmailResult = z.object({ sent: z.boolean(), transport: z.string(), detail: z.string() }).openapi("EmailResult");

export const Health = z.object({ ok: z.literal(true) }).openapi("Health");

export const StatusSchema = z
  .object({
    backups: z.object({ total: z.number().int(), byType: z.record(z.string(), z.number().int()), totalBytes: z.number().int() }),
    lastBackup: z
      .object({ id: z.string(), type: z.string(), createdAt: z.string(), sizeBytes: z.number().int(), result: z.literal("succeeded") })
      .nullable(),
    lastBackupJob: z
      .object({ id: z.string(), state: z.string(), backupId: z.string().optional(), finishedAt: z.string().optional(), error: z.string().optional() })
      .nullable()
      .openapi({ description: "The newest backup attempt, which may have failed" }),
    lastVerify: z
      .object({ backupId: z.string().optional(), at: z.string(), actor: z.string() })
      .nullable()
      .openapi({ description: "The newest successful verify from the audit trail, from the dashboard or the CLI" }),
    storage: z.object({ location: z.string(), usedBytes: z.number(), freeBytes: z.number().nullable(), workBytes: z.number() }),
    catalog: z.object({ damaged: z.array(DamagedManifest), orphans: z.array(OrphanArchive), incomplete: z.array(IncompleteBackup) }),
    scheduler: z.object({ initialized: z.boolean(), timeZone: z.string(), nextRuns: z.record(z.string(), z.string().nullable()) }),
    email: z.object({ enabled: z.boolean(), transport: z.string(), lastResult: z.object({ at: z.string(), ok: z.boolean(), detail: z.string() }).nullable() }),
    running: z.object({ job: JobSchema.nullable(), lock: z.object({ operation: z.string(), startedAt: z.string(), host: z.string(), pid: z.number() }).nullable() }),
    retention: z.object({ daily: z.number().int(), weekly: z.number().int(), monthly: z.number().int() }),
    health: z.object({ healthy: z.boolean(), maxAgeHours: z.number(), reasons: z.array(z.string()) }),
  })
  .openapi("Status");
