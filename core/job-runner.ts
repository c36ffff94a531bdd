// Runs jobs in this process, one at a time and off the request path; the local runtime's stand-in for the AWS worker.
import { runBackup, type BackupRequest } from "./backup.ts";
import type { Engine, Progress } from "./engine.ts";
import { BackupError, ConflictError, RestoreError, errorMessage } from "./errors.ts";
import { LOCK_KEY, newBackupId } from "./ids.ts";
import { newJobId, readJob, saveJob, type Job, type JobKind, type JobService } from "./jobs.ts";
import { isStale, readLock } from "./lock.ts";
import { checkRestoreRequest, runRestore } from "./restore.ts";
import { verifyBackup } from "./verify.ts";

export interface JobRunnerHooks {
  /** Called once a job has finished, successful or not (notifications and events hang here). */
  onFinished?: (job: Job) => void | Promise<void>;
}

export class LocalJobRunner implements JobService {
  private running: { job: Job; done: Promise<void> } | null = null;
  private lastSaved = 0;
  // Saves run one after another so a late progress write can never overwrite the final state.
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly engine: Engine, private readonly hooks: JobRunnerHooks = {}) {}

  /** The job running now, if any. */
  current(): Job | null {
    return this.running ? { ...this.running.job } : null;
  }

  async get(id: string): Promise<Job> {
    if (this.running?.job.id === id) return { ...this.running.job };
    return readJob(this.engine.storage, id);
  }

  async submitBackup(req: Omit<BackupRequest, "onProgress" | "id"> & { actor: string }): Promise<Job> {
    const backupId = newBackupId(req.type, this.engine.now());
    return this.submit("backup", req.actor, { type: req.type, description: req.description, components: req.components }, backupId, (onProgress) =>
      runBackup(this.engine, { ...req, id: backupId, onProgress }),
    );
  }

  async submitRestore(req: { backupId: string; components: string[]; confirm: string; actor: string }): Promise<Job> {
    checkRestoreRequest(req); // bad input is a 400 now, not a failed job later
    return this.submit("restore", req.actor, { components: req.components }, req.backupId, (onProgress) => runRestore(this.engine, { ...req, onProgress }));
  }

  async submitVerify(backupId: string, actor: string): Promise<Job> {
    return this.submit("verify", actor, {}, backupId, (onProgress) => verifyBackup(this.engine, backupId, onProgress), true);
  }

  /** Resolves when no job is running; used by shutdown to let a backup finish. */
  async idle(): Promise<void> {
    while (this.running) await this.running.done;
  }

  private async submit(kind: JobKind, actor: string, request: Record<string, unknown>, backupId: string, work: (p: (p: Progress) => void) => Promise<unknown>, readOnly = false): Promise<Job> {
    if (this.running && !readOnly) throw new ConflictError(`start ${kind}: ${this.running.job.kind} job ${this.running.job.id} is running; wait for it to finish`, this.current());
    if (!readOnly) {
      const lock = await readLock(this.engine.storage, LOCK_KEY);
      if (lock && !isStale(lock, this.engine.now())) throw new ConflictError(`start ${kind}: ${lock.operation} has been running since ${lock.startedAt} (pid ${lock.pid} on ${lock.host})`, lock);
    }
    if (this.running) throw new ConflictError(`start ${kind}: ${this.running.job.kind} job ${this.running.job.id} is running; wait for it to finish`, this.current());
    const now = this.engine.now().toISOString();
    const job: Job = { id: newJobId(this.engine.now()), kind, state: "queued", actor, createdAt: now, backupId, request };
    await saveJob(this.engine.storage, job);
    const done = this.execute(job, work).finally(() => {
      this.running = null;
    });
    this.running = { job, done };
    return { ...job };
  }

  private async execute(job: Job, work: (p: (p: Progress) => void) => Promise<unknown>): Promise<void> {
    // Let the caller answer its request before any heavy work starts.
    await new Promise((r) => setImmediate(r));
    Object.assign(job, { state: "running", startedAt: this.engine.now().toISOString() });
    await this.save(job);
    try {
      const result = await work((p) => this.progress(job, p));
      const failed = kindFailed(job.kind, result);
      Object.assign(job, { state: failed ? "failed" : "succeeded", result, ...(failed ? { error: { code: "verify_failed", message: failed } } : {}) });
    } catch (err) {
      const code = err instanceof BackupError ? err.code : "internal_error";
      const rolledBack = err instanceof RestoreError ? { rolledBack: err.rolledBack } : {};
      Object.assign(job, { state: "failed", error: { code, message: errorMessage(err), ...rolledBack } });
      this.engine.log.error(`${job.kind} job failed`, { jobId: job.id, error: errorMessage(err) });
    }
    job.finishedAt = this.engine.now().toISOString();
    await this.save(job);
    await Promise.resolve(this.hooks.onFinished?.({ ...job })).catch((err) => this.engine.log.error("job hook failed", { error: errorMessage(err) }));
  }

  private progress(job: Job, p: Progress) {
    job.progress = p;
    const now = Date.now();
    // Persist at most once a second: other processes (or the Lambda API) poll the stored copy.
    if (now - this.lastSaved > 1000) {
      this.lastSaved = now;
      void this.save(job);
    }
  }

  private save(job: Job): Promise<void> {
    const snapshot = { ...job };
    this.saving = this.saving
      .then(() => saveJob(this.engine.storage, snapshot))
      .catch((err) => this.engine.log.error("save job", { jobId: job.id, error: errorMessage(err) }));
    return this.saving;
  }
}

function kindFailed(kind: JobKind, result: unknown): string | null {
  if (kind === "verify" && result && typeof result === "object" && (result as { ok?: boolean }).ok === false) {
    return (result as { error?: string }).error ?? "verification failed";
  }
  return null;
}
