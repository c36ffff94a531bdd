// The worker's core: run the job a *.requested event names, once, however often the event is delivered.
import type { Engine } from "../engine.ts";
import type { EventBus } from "../events/bus.ts";
import { eventForJob, type AnyEvent } from "../events/job-events.ts";
import type { BusEvent } from "../events/schema.ts";
import { executeJob } from "./exec.ts";
import { jobKey, readJob, type Job } from "./records.ts";
import { NotFoundError } from "../errors.ts";

export type WorkerOutcome = { ran: false; reason: string } | { ran: true; job: Job; event: AnyEvent | null };

/**
 * EventBridge delivers at least once: a claim object, created only if absent, lets exactly one delivery run the
 * job. The finished job's lifecycle event is published when a bus is reachable and returned either way, so a
 * function inside the VPC can hand it to a Lambda destination instead.
 */
export async function handleWorkEvent(engine: Engine, event: BusEvent, bus: EventBus | null, opts: { heartbeatMs?: number } = {}): Promise<WorkerOutcome> {
  const { jobId } = event.detail as { jobId: string };
  let job: Job;
  try {
    job = await readJob(engine.storage, jobId);
  } catch (err) {
    if (err instanceof NotFoundError) return { ran: false, reason: `job ${jobId} is not recorded; nothing to do` };
    throw err;
  }
  const claimed = await engine.storage.createExclusive(`${jobKey(jobId)}.claim`, JSON.stringify({ claimedAt: engine.now().toISOString(), host: engine.host }));
  if (!claimed || job.state !== "queued") return { ran: false, reason: `job ${jobId} was already taken (${job.state}); a duplicate delivery` };
  if (job.kind === "backup" && bus) await bus.publish("backup.started", { version: 1, jobId, backupId: job.backupId!, type: job.request.type as "manual" });
  const finished = await executeJob(engine, job, undefined, opts);
  const out = eventForJob(finished);
  if (out && bus) await bus.publish(out.type, out.detail as never);
  return { ran: true, job: finished, event: out };
}
