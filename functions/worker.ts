// Worker: backup.requested, restore.requested, verify.requested and export.requested from the bus, each job run once.
import { parseEvent } from "../core/events/schema.ts";
import { startupRecovery } from "../core/startup.ts";
import { handleWorkEvent } from "../core/jobs/worker.ts";
import { buildDeps, lazy } from "../runtime/aws.ts";

const deps = lazy(() => buildDeps());

export async function handler(event: unknown) {
  const { engine, bus } = await deps();
  // A restore that an earlier invocation left unfinished (e.g. killed at the time limit) is rolled back first.
  await startupRecovery(engine);
  const outcome = await handleWorkEvent(engine, parseEvent(event), bus);
  // Inside the VPC this return value is what the Lambda destination carries to the notifier.
  return outcome.ran ? outcome.event : null;
}
