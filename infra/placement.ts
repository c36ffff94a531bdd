// Which runtime runs each job on AWS (the Worker Lambda or the JobTask on Fargate), and the bus patterns that send each requested job there; pure data, checked against infra/limits-model.ts.
import { WORKER_PATTERN, type EventPattern } from "../core/events/patterns.ts";
import type { EventType } from "../core/events/schema.ts";
import type { JobName } from "./limits-model.ts";

export type Runtime = "lambda" | "task";

/** The memory of the two functions that mount EFS (infra/functions.ts); the model gives them its vCPUs. */
export const EFS_LAMBDA_MEMORY_MB = 2048;

/** The requested jobs the API publishes (core WORKER_PATTERN), and what the model calls each. */
export type WorkEvent = "backup.requested" | "restore.requested" | "verify.requested" | "export.requested";

/**
 * The dispatch rule. A job stays on Lambda only when the model (bench-measured, AWS-documented) finishes its
 * worst case on the reference CRM in at most half of Lambda's 15 minutes; otherwise it runs as the JobTask.
 * A manual backup may be the store's first, so it is held to the first backup's time. Test:
 * test/aws-placement.test.ts re-derives every entry from the model and the latest bench results.
 */
export const WORK_PLACEMENT: Record<WorkEvent, { runtime: Runtime; model: JobName }> = {
  "backup.requested": { runtime: "lambda", model: "backup-first" },
  // ~14 min modelled on Lambda (96% of the limit): 40,000 files created over NFS at 2.7 ms a write op dominate.
  "restore.requested": { runtime: "task", model: "restore" },
  "verify.requested": { runtime: "lambda", model: "verify" },
  "export.requested": { runtime: "lambda", model: "export" },
};

/**
 * The schedules. The daily slot may be the store's first backup (a fresh deploy), weekly and monthly read every
 * byte again (issue 8: a silent change is caught within a week); all hold 2× on Lambda, and the daily one must
 * stay there: its success is the metric the BackupNotSucceeded alarm watches (an EMF line Lambda's logs extract).
 */
export const SCHEDULE_PLACEMENT: Record<"daily" | "weekly" | "monthly", { runtime: Runtime; model: JobName }> = {
  daily: { runtime: "lambda", model: "backup-first" },
  weekly: { runtime: "lambda", model: "backup-full-reread" },
  monthly: { runtime: "lambda", model: "backup-full-reread" },
};

/** WORKER_PATTERN split by runtime: each requested job goes to exactly one of them. */
export function workPatterns(): Record<Runtime, EventPattern> {
  const on = (rt: Runtime) =>
    WORKER_PATTERN["detail-type"].filter((t) => WORK_PLACEMENT[t as WorkEvent]?.runtime === rt) as EventType[];
  return {
    lambda: { source: WORKER_PATTERN.source, "detail-type": on("lambda") },
    task: { source: WORKER_PATTERN.source, "detail-type": on("task") },
  };
}

/** The container in the JobTask's task definition (sst.aws.Task names its one container after the component). */
export const TASK_CONTAINER = "JobTask";

/**
 * The RunTask overrides the bus rule sends for a matched event: the job's id and event type as environment
 * variables (functions/task.ts reads them). EventBridge fills in <jobId> and <type> from the event
 * (input transformer: string values are inserted quoted, as JSON strings).
 */
export const TASK_INPUT = {
  inputPaths: { jobId: "$.detail.jobId", type: "$.detail-type" },
  inputTemplate: `{"containerOverrides":[{"name":"${TASK_CONTAINER}","environment":[{"name":"JOB_ID","value":<jobId>},{"name":"JOB_EVENT_TYPE","value":<type>}]}]}`,
} as const;
