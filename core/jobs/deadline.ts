// The worker-lost deadline: a job whose heartbeat is older than it is reported, and recorded once, as failed.
import { errorMessage } from "../errors.ts";
import type { Storage } from "../storage/storage.ts";
import { readJob, saveJob, type Job } from "./records.ts";

/** How often a running job's record is saved even without progress, so readers can tell a live worker from a dead one. */
export const HEARTBEAT_MS = 15_000;
/** In `serve` the worker is this process: eight missed heartbeats mean it died (or was killed) with the job running. */
export const LOCAL_LOST_AFTER_MS = 2 * 60_000;
/** The worker function's timeout in infra/functions.ts; Lambda stops it there without a word. */
export const LAMBDA_WORKER_TIMEOUT_MS = 15 * 60_000;
/**
 * On AWS a queued job may wait for Lambda's async queue, and a worker is stopped at its timeout at the latest, so a job
 * not heard from for the timeout plus a margin has no worker left.
 */
export const LAMBDA_LOST_AFTER_MS = LAMBDA_WORKER_TIMEOUT_MS + 2 * 60_000;

export interface DeadlineOptions {
  /** A queued or running job not heard from for this long is failed with code worker_lost. */
  lostAfterMs?: number;
  /** How often a running job refreshes its heartbeat (updatedAt). */
  heartbeatMs?: number;
}

/** When the job's worker last wrote its record: the heartbeat, else its start, else its creation. */
export function lastSeen(job: Job): string {
  return job.updatedAt ?? job.startedAt ?? job.createdAt;
}

/** The failed job a lost one turns into, or null while its worker may still be alive (or the job has ended). */
export function lostVerdict(job: Job, now: Date, lostAfterMs: number): Job | null {
  if (job.state !== "queued" && job.state !== "running") return null;
  const seen = lastSeen(job);
  const silentMs = now.getTime() - Date.parse(seen);
  if (!(silentMs > lostAfterMs)) return null;
  const what = job.state === "queued" ? "was never picked up by a worker" : "stopped reporting";
  // A restore's own journal says whether the swap finished; recovery corrects this verdict when it replays it.
  const next = job.kind === "restore" ? "; the restore journal is replayed or rolled back at the next operation" : `; start the ${job.kind} again`;
  const message = `run ${job.kind} job ${job.id}: its worker was lost: the job ${what}, last seen ${seen} (${Math.round(silentMs / 1000)} s ago, deadline ${Math.round(lostAfterMs / 1000)} s)${next}`;
  return { ...job, state: "failed", finishedAt: now.toISOString(), error: { code: "worker_lost", message } };
}

/**
 * Returns the job as it stands: unchanged, or failed with worker_lost if its deadline passed. The verdict is saved once,
 * after reading the record again, so a heartbeat that arrived meanwhile wins and a second reader finds it already failed.
 */
export async function settleLost(storage: Storage, job: Job, now: Date, lostAfterMs: number, log?: { warn(msg: string, data?: Record<string, unknown>): void }): Promise<Job> {
  if (!lostVerdict(job, now, lostAfterMs)) return job;
  const fresh = await readJob(storage, job.id).catch(() => job);
  const verdict = lostVerdict(fresh, now, lostAfterMs);
  if (!verdict) return fresh;
  try {
    await saveJob(storage, verdict);
  } catch (err) {
    // The verdict still stands for this reader; the next one tries to save it again.
    log?.warn("save lost job", { jobId: job.id, error: errorMessage(err) });
  }
  log?.warn("job worker lost", { jobId: job.id, kind: job.kind, lastSeen: lastSeen(fresh) });
  return verdict;
}

export async function settleLostAll(storage: Storage, jobs: Job[], now: Date, lostAfterMs: number, log?: { warn(msg: string, data?: Record<string, unknown>): void }): Promise<Job[]> {
  return Promise.all(jobs.map((j) => settleLost(storage, j, now, lostAfterMs, log)));
}
