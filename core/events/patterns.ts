// The event patterns the infra's rules use, and a matcher for the subset of EventBridge patterns we use in-process.
import { EVENT_SOURCE, type EventType } from "./schema.ts";

export interface EventPattern {
  source: string[];
  "detail-type": EventType[];
}

/** Events that become emails. */
export const NOTIFIER_PATTERN: EventPattern = {
  source: [EVENT_SOURCE],
  "detail-type": ["backup.succeeded", "backup.failed", "restore.succeeded", "restore.failed", "restore.rolled-back", "cleanup.completed", "verify.failed", "system.initialized"],
};

/** Work requested by the API, done by the worker. */
export const WORKER_PATTERN: EventPattern = {
  source: [EVENT_SOURCE],
  "detail-type": ["backup.requested", "restore.requested", "verify.requested", "export.requested"],
};

/** Cleanup requested by the API, done by the cleanup function: the one role that may delete backups, and it needs no EFS. */
export const CLEANUP_PATTERN: EventPattern = {
  source: [EVENT_SOURCE],
  "detail-type": ["cleanup.requested"],
};

export function matches(pattern: EventPattern, event: { source: string; "detail-type": string }): boolean {
  return pattern.source.includes(event.source) && (pattern["detail-type"] as string[]).includes(event["detail-type"]);
}
