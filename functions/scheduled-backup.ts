// Scheduled backup: a schedule's event in, one backup per slot; the outcome out as the function's result (a destination), a failure as a failed invocation.
import { backupSucceededLine } from "../core/metrics.ts";
import { parseScheduledEvent } from "../core/schedule-event.ts";
import { runSchedule } from "../core/scheduled.ts";
import { buildDeps, lazy } from "../runtime/aws.ts";

const deps = lazy(() => buildDeps());

export async function handler(event: unknown) {
  const { engine, bus } = await deps();
  // Throws when the backup failed (core/scheduled.ts): Lambda counts the error, retries once, then sends the failure record.
  const result = await runSchedule(engine, parseScheduledEvent(event), bus);
  if (result?.type === "backup.succeeded") {
    // The dead-man's switch (infra/alarms.ts) alarms when this metric is missing for the health window.
    process.stdout.write(backupSucceededLine(process.env.AWS_LAMBDA_FUNCTION_NAME ?? "local", result.detail));
  }
  return result;
}
