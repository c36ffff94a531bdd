// Cleanup: the cleanup schedule's event, or the API's cleanup.requested job, in; retention applied to the store; cleanup.completed out.
import { ValidationError } from "../core/errors.ts";
import { EVENT_SOURCE, parseEvent } from "../core/events/schema.ts";
import { handleWorkEvent } from "../core/jobs/worker.ts";
import { parseScheduledEvent } from "../core/schedule-event.ts";
import { runSchedule } from "../core/scheduled.ts";
import { buildDeps, lazy } from "../runtime/aws.ts";

const deps = lazy(() => buildDeps());

/** The API's request arrives on the bus (infra/events.ts, CLEANUP_PATTERN); the schedule's slot arrives from the Scheduler. */
function isCleanupRequest(event: unknown): boolean {
  const e = event as { source?: unknown; "detail-type"?: unknown } | null;
  return e?.source === EVENT_SOURCE && e["detail-type"] === "cleanup.requested";
}

export async function handler(event: unknown) {
  const { engine, bus } = await deps();
  if (isCleanupRequest(event)) {
    // Run as a recorded job, once however often the event is delivered; the API's caller polls it.
    const outcome = await handleWorkEvent(engine, parseEvent(event), bus);
    return outcome.ran ? outcome.event : null;
  }
  const slot = parseScheduledEvent(event);
  if (slot.kind !== "cleanup") throw new ValidationError(`cleanup handler: got a "${slot.kind}" schedule; route it to the backup function`);
  return runSchedule(engine, slot, bus);
}
