// What a schedule delivers: an EventBridge "Scheduled Event" (rule or Scheduler) naming the backup type and the slot time.
import { z } from "zod";
import { ValidationError } from "./errors.ts";
import { SCHEDULED_TYPES, type ScheduledType } from "./manifest.ts";

const KINDS = [...SCHEDULED_TYPES, "cleanup"] as const;
export type ScheduleKind = (typeof KINDS)[number];

const ScheduledEvent = z.object({
  "detail-type": z.literal("Scheduled Event"),
  source: z.enum(["aws.events", "aws.scheduler"]),
  time: z.iso.datetime({ offset: true }),
  resources: z.array(z.string()).default([]),
  detail: z.object({ type: z.enum(KINDS).optional() }).loose().default({}),
});

/**
 * The slot time is the event's `time`: identical on every redelivery of one firing, so it makes duplicates
 * detectable. The type comes from the schedule's input (`detail.type`); a plain rule event without input
 * names it through the rule's name instead (e.g. ".../colab-backup-daily").
 */
export function parseScheduledEvent(raw: unknown): { kind: ScheduleKind; scheduledAt: Date } {
  const parsed = ScheduledEvent.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError(`parse scheduled event: expected an EventBridge "Scheduled Event" with an ISO time; ${parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`).join("; ")}`);
  }
  const e = parsed.data;
  const fromName = e.resources
    .map((arn) => /(daily|weekly|monthly|cleanup)(-?backup)?$/i.exec(arn.split(/[/:]/).pop() ?? "")?.[1]?.toLowerCase() as ScheduleKind | undefined)
    .find(Boolean);
  const kind = e.detail.type ?? fromName;
  if (!kind) throw new ValidationError(`parse scheduled event: the event names no backup type; give the schedule the input {"detail": {"type": "daily"}} (one of ${KINDS.join(", ")})`);
  return { kind, scheduledAt: new Date(e.time) };
}

export const isBackupKind = (k: ScheduleKind): k is ScheduledType => k !== "cleanup";
