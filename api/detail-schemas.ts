// The zod schemas of the details, file-browsing and run-history routes: request checks and their OpenAPI shapes.
import { z } from "@hono/zod-openapi";
import { COMPONENTS } from "../core/manifest.ts";
import { RUN_ACTIONS } from "../core/run-history.ts";
import { whole } from "./schemas.ts";


export const FilesQuery = z.object({
  q: z.string().max(500, { error: "q must be at most 500 characters (text the file's path contains)" }).optional().openapi({ example: ".png" }),
  under: z
    .string()
    .max(1000, { error: "under must be at most 1000 characters" })
    .refine((s) => !s.startsWith("/") && !s.split("/").includes(".."), { error: 'under must be a folder inside the backup, e.g. "uploads/2026", without a leading / or ..' })
    .optional()
    .openapi({ example: "uploads/2026" }),
  component: z.enum(COMPONENTS, { error: `component must be one of ${COMPONENTS.join(", ")}` }).optional(),
  page: whole("page", 1, 1_000_000, 1),
  pageSize: whole("pageSize", 1, 500, 100),
});

export const FilePageSchema = z
  .object({
    total: z.number().int().openapi({ description: "Files that match, on all pages" }),
    totalSize: z.number().int().openapi({ description: "Bytes of all files that match" }),
    page: z.number().int(),
    pageSize: z.number().int(),
    items: z.array(
      z.object({
        path: z.string(),
        component: z.string(),
        size: z.number().int(),
        sha256: z.string(),
        mode: z.number().int(),
        mtime: z.string().optional(),
        originalSize: z.number().int().optional().openapi({ description: "Logs: the size before compression" }),
        blobs: z.number().int().optional().openapi({ description: "v2: how many stored pieces the file is made of" }),
      }),
    ),
  })
  .openapi("FilePage");

const DatabaseDetails = z.object({
  sourcePath: z.string(),
  method: z.string(),
  integrityCheck: z.string(),
  journalMode: z.string(),
  pageSize: z.number().int(),
  pageCount: z.number().int(),
  tables: z.record(z.string(), z.number().int()),
  snapshotSha256: z.string().optional(),
  snapshotSize: z.number().int().optional(),
});

export const BackupDetailsSchema = z
  .object({
    formatVersion: z.union([z.literal(1), z.literal(2)]),
    id: z.string(),
    type: z.string(),
    description: z.string(),
    createdAt: z.string(),
    completedAt: z.string().optional(),
    host: z.string(),
    tool: z.string(),
    components: z.record(
      z.string(),
      z.object({
        status: z.enum(["included", "missing"]),
        note: z.string().optional(),
        fileCount: z.number().int(),
        totalSize: z.number().int(),
        blobCount: z.number().int().optional(),
        database: DatabaseDetails.optional(),
      }),
    ),
    archive: z.object({ key: z.string(), sizeBytes: z.number().int(), sha256: z.string(), verifiedAt: z.string() }).optional(),
    stored: z.record(z.string(), z.unknown()).optional().openapi({ description: "v2: what the backup references and added to the store" }),
  })
  .loose()
  .openapi("BackupDetails");

export const RunsQuery = z.object({ limit: whole("limit", 1, 500, 50) });

export const RunList = z
  .object({
    items: z.array(
      z.object({
        at: z.string(),
        action: z.enum(RUN_ACTIONS),
        actor: z.string(),
        result: z.enum(["succeeded", "failed", "rolled-back"]),
        backupId: z.string().optional(),
        components: z.array(z.string()).optional(),
        durationMs: z.number().nullable(),
        sizeBytes: z.number().nullable(),
        bytesAdded: z.number().int().optional(),
        filesReused: z.number().int().optional(),
        repack: z
          .object({ packsRepacked: z.number().int().nonnegative(), bytesCopied: z.number().int().nonnegative(), freeableBytes: z.number().int().nonnegative() })
          .optional()
          .openapi({ description: "Cleanups: partly used packs repacked, bytes copied, and bytes the first cleanup an hour or more later frees by deleting them" }),
        error: z.string().optional(),
      }),
    ),
  })
  .openapi("RunList");
