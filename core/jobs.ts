// Jobs: long operations recorded in the store so that a request can answer 202 at once and callers can poll progress.
import { randomBytes } from "node:crypto";
import { NotFoundError, ValidationError } from "./errors.ts";
import type { Progress } from "./engine.ts";
import type { Storage } from "./storage/storage.ts";

export const JOB_KINDS = ["backup", "restore", "verify", "cleanup"] as const;
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
  submitRestore(req: { backupId: string; components: string[]; confirm: string; actor: string }): Promise<Job>;
  submitVerify(backupId: string, actor: string): Promise<Job>;
  /** NotFoundError for an unknown id. */
  get(id: string): Promise<Job>;
  /** The backup or restore running now, if any. */
  current(): Job | null;
}

const JOB_ID = /^job-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

export function newJobId(at: Date): string {
  return `job-${at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")}-${randomBytes(4).toString("hex")}`;
}

export function jobKey(id: string): string {
  if (!JOB_ID.test(id)) throw new ValidationError(`job id "${id}" is not valid: expected job-<YYYYMMDDTHHMMSSZ>-<8 hex>`);
  return `jobs/${id}.json`;
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
  const objs = (await storage.list("jobs/")).slice(-limit).reverse();
  return Promise.all(objs.map(async (o) => JSON.parse((await storage.getBuffer(o.key)).toString("utf8")) as Job));
}
