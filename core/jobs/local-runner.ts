// Runs jobs in this process, one at a time and off the request path; the local runtime's stand-in for the AWS worker.
import type { BackupRequest } from "../backup.ts";
import type { Engine } from "../engine.ts";
import { ConflictError, errorMessage } from "../errors.ts";
import { LOCAL_LOST_AFTER_MS, settleLost, settleLostAll, type DeadlineOptions } from "./deadline.ts";
import { executeJob } from "./exec.ts";
import { newBackupId } from "../ids.ts";
import { listJobs, newJobId, readJob, refuseWhileLocked, saveJob, type Job, type JobKind, type JobService } from "./records.ts";
import { checkRestoreRequest } from "../restore.ts";

export interface JobRunnerHooks {
  /** Called once a job has finished, successful or not (notifications and events hang here). */
  onFinished?: (job: Job) => void | Promise<void>;
}

export class LocalJobRunner implements JobService {
  private running: { job: Job; done: Promise<void> } | null = null;

  constructor(private readonly engine: Engine, private readonly hooks: JobRunnerHooks = {}, private readonly deadline: DeadlineOptions = {}) {}

  /** The job running now, if any. */
  current(): Job | null {
    return this.running ? { ...this.running.job } : null;
  }

  async get(id: string): Promise<Job> {
    if (this.running?.job.id === id) return { ...this.running.job };
    // Not running here, yet recorded as running: this process restarted (or another one died) with it unfinished.
    return settleLost(this.engine.storage, await readJob(this.engine.storage, id), this.engine.now(), this.lostAfterMs(), this.engine.log);
  }

  async list(limit = 50): Promise<Job[]> {
    const jobs = (await listJobs(this.engine.storage, limit)).map((j) => (this.running?.job.id === j.id ? { ...this.running.job } : j));
    const live = this.running?.job.id;
    const lost = await settleLostAll(this.engine.storage, jobs.filter((j) => j.id !== live), this.engine.now(), this.lostAfterMs(), this.engine.log);
    const byId = new Map(lost.map((j) => [j.id, j]));
    return jobs.map((j) => byId.get(j.id) ?? j);
  }

  private lostAfterMs(): number {
    return this.deadline.lostAfterMs ?? LOCAL_LOST_AFTER_MS;
  }

  async submitBackup(req: Omit<BackupRequest, "onProgress" | "id"> & { actor: string }): Promise<Job> {
    const request = { type: req.type, description: req.description, components: req.components, scheduledAt: req.scheduledAt?.toISOString() };
    return this.submit("backup", req.actor, request, newBackupId(req.type, this.engine.now()));
  }

  async submitRestore(req: Parameters<JobService["submitRestore"]>[0]): Promise<Job> {
    const components = checkRestoreRequest(req); // bad input is a 400 now, not a failed job later
    return this.submit("restore", req.actor, { components, ...(req.include ? { include: req.include } : {}) }, req.backupId);
  }

  async submitVerify(backupId: string, actor: string): Promise<Job> {
    return this.submit("verify", actor, {}, backupId, true);
  }

  /** Only used with a presigning store (S3) in this process; with a local store the API streams the export itself. */
  async submitExport(backupId: string, actor: string): Promise<Job> {
    return this.submit("export", actor, {}, backupId, true);
  }

  async submitCleanup(actor: string): Promise<Job> {
    return this.submit("cleanup", actor, {});
  }

  /** Resolves when no job is running; used by shutdown to let a backup finish. */
  async idle(): Promise<void> {
    while (this.running) await this.running.done;
  }

  private async submit(kind: JobKind, actor: string, request: Record<string, unknown>, backupId?: string, readOnly = false): Promise<Job> {
    if (this.running && !readOnly) throw new ConflictError(`start ${kind}: ${this.running.job.kind} job ${this.running.job.id} is running; wait for it to finish`, this.current());
    if (!readOnly) {
      await refuseWhileLocked(this.engine, kind);
    }
    if (this.running) throw new ConflictError(`start ${kind}: ${this.running.job.kind} job ${this.running.job.id} is running; wait for it to finish`, this.current());
    const now = this.engine.now().toISOString();
    const job: Job = { id: newJobId(this.engine.now()), kind, state: "queued", actor, createdAt: now, ...(backupId ? { backupId } : {}), request };
    await saveJob(this.engine.storage, job);
    const done = this.execute(job).finally(() => {
      this.running = null;
    });
    this.running = { job, done };
    return { ...job };
  }

  private async execute(job: Job): Promise<void> {
    // Let the caller answer its request before any heavy work starts.
    await new Promise((r) => setImmediate(r));
    const finished = await executeJob(this.engine, job, undefined, { heartbeatMs: this.deadline.heartbeatMs });
    await Promise.resolve(this.hooks.onFinished?.(finished)).catch((err) => this.engine.log.error("job hook failed", { error: errorMessage(err) }));
  }
}
