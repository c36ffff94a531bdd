// Unwraps what reaches the notifier into lifecycle events: bus events, SQS batches of them, and Lambda destination records.
import { envelope } from "../events/bus.ts";
import { parseEvent, type BusEvent, type EventType } from "../events/schema.ts";
import { parseScheduledEvent } from "../schedule-event.ts";

type Json = Record<string, any>;

export function notificationEvents(raw: unknown): BusEvent[] {
  const input = raw as Json;
  if (Array.isArray(input?.Records)) {
    return input.Records.flatMap((r: Json) => notificationEvents(typeof r.body === "string" ? JSON.parse(r.body) : r.body));
  }
  if (input?.source === "lambda" && typeof input["detail-type"] === "string") return fromDestination(input);
  return [parseEvent(raw)];
}

/** A VPC function's result: its return value on success, or its error and the event it was given on failure. */
function fromDestination(record: Json): BusEvent[] {
  const d = record.detail ?? {};
  const response = d.responsePayload;
  if (record["detail-type"].endsWith("Success")) {
    if (!response || typeof response.type !== "string") return []; // nothing to announce (a duplicate delivery)
    return [envelope(response.type as EventType, response.detail)];
  }
  const message = String(response?.errorMessage ?? "the function failed without a message");
  const error = { code: String(response?.errorType ?? "function_error"), message };
  const request = d.requestPayload as Json | undefined;
  if (request?.["detail-type"] === "Scheduled Event") {
    const { kind } = parseScheduledEvent(request);
    return kind === "cleanup" ? [] : [envelope("backup.failed", { version: 1, type: kind, error })];
  }
  const requested = request ? parseEvent(request) : null;
  const detail = requested?.detail as Json | undefined;
  switch (requested?.["detail-type"]) {
    case "backup.requested":
      return [envelope("backup.failed", { version: 1, jobId: detail!.jobId, backupId: detail!.backupId, type: detail!.type, error })];
    case "restore.requested":
      return [envelope("restore.failed", { version: 1, jobId: detail!.jobId, backupId: detail!.backupId, components: detail!.components, actor: detail!.actor, error })];
    case "verify.requested":
      return [envelope("verify.failed", { version: 1, jobId: detail!.jobId, backupId: detail!.backupId, error: message })];
    default:
      return [];
  }
}
