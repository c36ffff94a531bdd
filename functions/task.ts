// The JobTask's entry point (Fargate, infra/tasks.ts): runs the one job its environment names, once, and exits non-zero when it failed.
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import { ConfigError, errorMessage } from "../core/errors.ts";
import { WORKER_PATTERN } from "../core/events/patterns.ts";
import { EVENT_SOURCE, type BusEvent } from "../core/events/schema.ts";
import { JOB_ID_PATTERN } from "../core/jobs/records.ts";
import { handleWorkEvent, type WorkerOutcome } from "../core/jobs/worker.ts";
import { startupRecovery } from "../core/startup.ts";
import { buildDeps } from "../runtime/aws.ts";

/** The event the bus rule matched, rebuilt from the two variables its input transformer sets (infra/placement.ts TASK_INPUT). */
export function taskEvent(env: NodeJS.ProcessEnv): BusEvent {
  const jobId = env.JOB_ID ?? "";
  const type = env.JOB_EVENT_TYPE ?? "";
  if (!JOB_ID_PATTERN.test(jobId)) {
    throw new ConfigError(`start job task: JOB_ID must name a recorded job (job-<YYYYMMDDTHHMMSSZ>-<8 hex>), got "${jobId}"; the bus rule's input transformer sets it from detail.jobId`);
  }
  if (!(WORKER_PATTERN["detail-type"] as string[]).includes(type)) {
    throw new ConfigError(`start job task: JOB_EVENT_TYPE must be one of ${WORKER_PATTERN["detail-type"].join(", ")}, got "${type}"; the bus rule sets it from detail-type`);
  }
  // The worker reads everything else from the job record the API saved; only the id travels in the event.
  return { id: "", source: EVENT_SOURCE, "detail-type": type, time: "", detail: { jobId } } as unknown as BusEvent;
}

/**
 * What the container runs: an interrupted restore (this task or the Worker killed mid-swap) is replayed or rolled
 * back first, exactly as every other entry point does, then the job runs and its lifecycle event is published.
 * Returns the process exit code: 0 when the job succeeded or another delivery already took it, 1 when it failed.
 */
export async function runTask(env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; outcome: WorkerOutcome }> {
  const event = taskEvent(env);
  const { engine, bus } = await buildDeps(env);
  await startupRecovery(engine);
  const outcome = await handleWorkEvent(engine, event, bus);
  if (!outcome.ran) {
    engine.log.info("job task had nothing to do", { reason: outcome.reason });
    return { code: 0, outcome };
  }
  return { code: outcome.job.state === "succeeded" ? 0 : 1, outcome };
}

// Not in a worker thread: in a one-file bundle the lock's beat thread loads the whole bundle (core/lock.ts), and a thread
// sees the process's argv, so a bundled task would otherwise run its job a second time there.
if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runTask().then(
    ({ code, outcome }) => {
      if (outcome.ran && code !== 0) process.stderr.write(`job task: ${outcome.job.kind} job ${outcome.job.id} failed: ${outcome.job.error?.message ?? "unknown error"}\n`);
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`job task: ${errorMessage(err)}\n`);
      process.exitCode = 1;
    },
  );
}
