// Worker: backup.requested, restore.requested and verify.requested from the bus, each job run once.
import { parseEvent } from "../core/events/schema.ts";
import { handleWorkEvent } from "../core/worker.ts";
import { buildDeps, lazy } from "./deps.ts";

const deps = lazy(() => buildDeps());

export async function handler(event: unknown) {
  const { engine, bus } = await deps();
  const outcome = await handleWorkEvent(engine, parseEvent(event), bus);
  // Inside the VPC this return value is what the Lambda destination carries to the notifier.
  return outcome.ran ? outcome.event : null;
}
