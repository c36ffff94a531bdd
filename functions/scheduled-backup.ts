// Scheduled backup: a schedule's event in, one backup per slot, the outcome out as the function's result (a destination).
import { parseScheduledEvent } from "../core/schedule-event.ts";
import { runSchedule } from "../core/scheduled.ts";
import { buildDeps, lazy } from "./deps.ts";

const deps = lazy(() => buildDeps());

export async function handler(event: unknown) {
  const { engine, bus } = await deps();
  return runSchedule(engine, parseScheduledEvent(event), bus);
}
