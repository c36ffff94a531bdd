// Cleanup: the cleanup schedule's event in, retention applied to the store, cleanup.completed out.
import { ValidationError } from "../core/errors.ts";
import { parseScheduledEvent } from "../core/schedule-event.ts";
import { runSchedule } from "../core/scheduled.ts";
import { buildDeps, lazy } from "./deps.ts";

const deps = lazy(() => buildDeps());

export async function handler(event: unknown) {
  const { engine, bus } = await deps();
  const slot = parseScheduledEvent(event);
  if (slot.kind !== "cleanup") throw new ValidationError(`cleanup handler: got a "${slot.kind}" schedule; route it to the backup function`);
  return runSchedule(engine, slot, bus);
}
