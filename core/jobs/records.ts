// Jobs: long operations recorded in the store so that a request can answer 202 at once and callers can poll progress.
import { randomBytes } from "node:crypto";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { LOCK_KEY } from "../ids.ts";
import { isStale, readLock } from "../lock.ts";
import type { Engine, Progress } from "../engine.ts";
import { readNewestJson } from "../storage/json-records.ts";
import type { Storage } from "../storage/storage.ts";

export const JOB_KINDS = ["backup", "restore", "verify", "cleanup", "export"] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export type JobState = "queued" | "running" | "succeeded" | "failed";

export interface Job {
  id: string;
  kind: JobKind;
  state: JobState;
  actor: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** The heartbeat: when the worker last saved this record. A queued or running job silent past a deadline is lost. */
  updatedAt?: string;
  /** The backup the job creates (backup) or reads (restore, verify). */
  backupId?: string;
  request: Record<string, unknown>;
  progress?: Progress;
  result?: unknown;
  error?: { code: string; message: string; rolledBack?: boolean };
}

/** What an API needs to start and follow jobs: in-process locally, events and a worker on AWS. */
export interface JobService {
  submitBackup(req: { type: "daily" | "weekly" | "monthly" | "manual"; description?: string; components?: readonly ("database" | "uploads" | "config" | "logs")[]; actor: string }): Promise<Job>;
  submitRestore(req: { backupId: string; components: string[]; confirm: string; actor: string; include?: string[] }): Promise<Job>;
  submitVerify(backupId: string, actor: string): Promise<Job>;
  /** Retention applied for real (a dry run is read-only and fast, so it stays inside the request). */
  submitCleanup(actor: string): Promise<Job>;
  /**
   * Writes a v2 backup's archive to exports/<id>.tar.gz for a presigned download (core/export-object.ts). Only where
   * downloads are presigned URLs (AWS); locally the API streams the export itself.
   */
  submitExport?(backupId: string, actor: string): Promise<Job>;
  /** NotFoundError for an unknown id. A job whose worker was lost is reported (and recorded) as failed, code worker_lost. */
  get(id: string): Promise<Job>;
  /** Newest first, with lost jobs failed as get does. */
  list(limit?: number): Promise<Job[]>;
  /** The backup or restore running now, if any. */
  current(): Job | null;
}

export const JOB_ID_PATTERN = /^job-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

export function newJobId(at: Date): string {
  return `job-${at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")}-${randomBytes(4).toString("hex")}`;
}

export function jobKey(id: string): string {
  if (!JOB_ID_PATTERN.test(id)) throw new ValidationError(`job id "${id}" is not valid: expected job-<YYYYMMDDTHHMMSSZ>-<8 hex>`);
  return `jobs/${id}.json`;
}

/** A job that would take the store lock is refused up front (409) while another operation holds it. */
export async function refuseWhileLocked(engine: Engine, kind: JobKind): Promise<void> {
  const lock = await readLock(engine.storage, LOCK_KEY);
  if (lock && !isStale(lock, engine.now())) {
    throw new ConflictError(`start ${kind}: ${lock.operation} has been running since ${lock.startedAt} (pid ${lock.pid} on ${lock.host}); wait for it to finish`, lock);
  }
}

export async function saveJob(storage: Storage, job: Job): Promise<void> {
  await storage.put(jobKey(job.id), JSON.stringify(job));
}

export async function readJob(storage: Storage, id: string): Promise<Job> {
  try {
    return JSON.parse((await storage.getBuffer(jobKey(id))).toString("utf8")) as Job;
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`find job: no job with id ${id}`);
    throw err;
  }
}

/** Newest first. */
export async function listJobs(storage: Storage, limit = 50): Promise<Job[]> {
  return readNewestJson<Job>(storage, "jobs/", limit);
}
