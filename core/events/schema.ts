// The lifecycle events: one source, a versioned zod schema per detail type, used by publishers, rules and consumers alike.
import { z } from "zod";
import { BACKUP_TYPES, COMPONENTS } from "../manifest.ts";

export const EVENT_SOURCE = "colab-backup";

const v1 = { version: z.literal(1) };
const error = z.object({ code: z.string(), message: z.string() });
const componentSummary = z.record(z.string(), z.object({ status: z.enum(["included", "missing"]), fileCount: z.number().int(), totalSize: z.number().int(), note: z.string().optional() }));
const type = z.enum(BACKUP_TYPES);
const components = z.array(z.enum(COMPONENTS)).min(1);
const count = z.number().int().nonnegative();

export const EventDetailSchemas = {
  "backup.requested": z.object({ ...v1, jobId: z.string(), backupId: z.string(), type, description: z.string().optional(), components: components.optional(), actor: z.string(), scheduledAt: z.string().optional() }),
  "backup.started": z.object({ ...v1, jobId: z.string().optional(), backupId: z.string(), type }),
  "backup.succeeded": z.object({
    ...v1, jobId: z.string().optional(), backupId: z.string(), name: z.string(), type, description: z.string(), sizeBytes: z.number().int(), sha256: z.string(),
    durationMs: z.number(), archiveKey: z.string(), components: componentSummary,
  }),
  "backup.failed": z.object({ ...v1, jobId: z.string().optional(), backupId: z.string().optional(), type, error }),
  "restore.requested": z.object({ ...v1, jobId: z.string(), backupId: z.string(), components, actor: z.string(), include: z.array(z.string()).min(1).optional() }),
  "verify.requested": z.object({ ...v1, jobId: z.string(), backupId: z.string(), actor: z.string() }),
  "cleanup.requested": z.object({ ...v1, jobId: z.string(), actor: z.string() }),
  "export.requested": z.object({ ...v1, jobId: z.string(), backupId: z.string(), actor: z.string() }),
  "restore.succeeded": z.object({ ...v1, jobId: z.string().optional(), backupId: z.string(), components, actor: z.string(), preRestoreBackupId: z.string(), durationMs: z.number() }),
  "restore.failed": z.object({ ...v1, jobId: z.string().optional(), backupId: z.string(), components, actor: z.string(), error }),
  "restore.rolled-back": z.object({ ...v1, jobId: z.string().optional(), backupId: z.string(), components, actor: z.string(), error }),
  "cleanup.completed": z.object({
    ...v1, removed: z.array(z.string()), freedBytes: z.number().int(), kept: z.number().int(), leftoversRemoved: z.array(z.string()),
    // Optional only so that an event an older publisher sent still parses; every publisher of this version sets both.
    /** Packs no backup references any more, deleted by this cleanup (their bytes are part of freedBytes). */
    packs: z.object({ removed: count, freedBytes: count }).optional(),
    /**
     * Partly used packs whose used blobs this cleanup copied into new packs: bytesCopied is the cost, freeableBytes what
     * deleting the old packs frees, which the first cleanup an hour or more later does (not part of freedBytes).
     */
    repack: z.object({ packsRepacked: count, bytesCopied: count, freeableBytes: count, manifestsRewritten: count }).optional(),
  }),
  "verify.failed": z.object({ ...v1, jobId: z.string().optional(), backupId: z.string(), error: z.string() }),
  "system.initialized": z.object({ ...v1, host: z.string(), schedules: z.record(z.string(), z.string()), timeZone: z.string(), store: z.string() }),
} as const;

export type EventType = keyof typeof EventDetailSchemas;
export type EventDetail<T extends EventType> = z.infer<(typeof EventDetailSchemas)[T]>;
export const EVENT_TYPES = Object.keys(EventDetailSchemas) as EventType[];

/** An event as EventBridge delivers it to a target (the fields we use). */
export interface BusEvent<T extends EventType = EventType> {
  id: string;
  source: typeof EVENT_SOURCE;
  "detail-type": T;
  time: string;
  detail: EventDetail<T>;
}

/** Validates an incoming event (from a rule, a queue or a test) and returns it typed; throws ValidationError-like zod errors. */
export function parseEvent(raw: unknown): BusEvent {
  const envelope = z.object({ id: z.string().default(""), source: z.literal(EVENT_SOURCE), "detail-type": z.enum(EVENT_TYPES as [EventType, ...EventType[]]), time: z.string().default(""), detail: z.unknown() }).parse(raw);
  const detail = EventDetailSchemas[envelope["detail-type"]].parse(envelope.detail);
  return { ...envelope, source: EVENT_SOURCE, detail } as BusEvent;
}
