// Jobs on AWS: the API records a job and publishes a *.requested event; the worker function does the work.
import type { Engine } from "../engine.ts";
import { ValidationError } from "../errors.ts";
import type { EventBus } from "../events/bus.ts";
import { newBackupId } from "../ids.ts";
import { LAMBDA_LOST_AFTER_MS, settleLost, settleLostAll } from "./deadline.ts";
import { listJobs, newJobId, readJob, refuseWhileLocked, saveJob, type Job, type JobKind, type JobService } from "./records.ts";
import { checkRestoreRequest } from "../restore.ts";

export class EventJobService implements JobService {
  /** lostAfterMs: the worker's timeout plus a margin (Lambda stops a worker at its timeout without a word). */
  constructor(private readonly engine: Engine, private readonly bus: EventBus, private readonly opts: { lostAfterMs?: number } = {}) {}

  async submitBackup(req: Parameters<JobService["submitBackup"]>[0]): Promise<Job> {
    await refuseWhileLocked(this.engine, "backup");
    const job = await this.record("backup", req.actor, newBackupId(req.type, this.engine.now()), { type: req.type, description: req.description, components: req.components });
    await this.bus.publish("backup.requested", {
      version: 1, jobId: job.id, backupId: job.backupId!, type: req.type, actor: req.actor,
      ...(req.description ? { description: req.description } : {}), ...(req.components ? { components: [...req.components] } : {}),
    });
    return job;
  }

  async submitRestore(req: Parameters<JobService["submitRestore"]>[0]): Promise<Job> {
    const components = checkRestoreRequest(req);
    await refuseWhileLocked(this.engine, "restore");
    const include = req.include ? { include: req.include } : {};
    const job = await this.record("restore", req.actor, req.backupId, { components, ...include });
    // The worker reads the job record; the event carries include too so subscribers see what was asked for.
    await this.bus.publish("restore.requested", { version: 1, jobId: job.id, backupId: req.backupId, components, actor: req.actor, ...include });
    return job;
  }

  async submitVerify(backupId: string, actor: string): Promise<Job> {
    const job = await this.record("verify", actor, backupId, {});
    await this.bus.publish("verify.requested", { version: 1, jobId: job.id, backupId, actor });
    return job;
  }

  /** On AWS the cleanup function runs it: it alone may delete backups (infra/permissions.ts), and needs no EFS. */
  async submitCleanup(actor: string): Promise<Job> {
    await refuseWhileLocked(this.engine, "cleanup");
    const job = await this.record("cleanup", actor, null, {});
    await this.bus.publish("cleanup.requested", { version: 1, jobId: job.id, actor });
    return job;
  }

  /** Read-only, like verify: no store lock. The worker writes exports/<id>.tar.gz; the API then presigns it. */
  async submitExport(backupId: string, actor: string): Promise<Job> {
    const job = await this.record("export", actor, backupId, {});
    await this.bus.publish("export.requested", { version: 1, jobId: job.id, backupId, actor });
    return job;
  }

  async get(id: string): Promise<Job> {
    return settleLost(this.engine.storage, await readJob(this.engine.storage, id), this.engine.now(), this.lostAfterMs(), this.engine.log);
  }

  async list(limit = 50): Promise<Job[]> {
    return settleLostAll(this.engine.storage, await listJobs(this.engine.storage, limit), this.engine.now(), this.lostAfterMs(), this.engine.log);
  }

  private lostAfterMs(): number {
    return this.opts.lostAfterMs ?? LAMBDA_LOST_AFTER_MS;
  }

  /** The worker runs elsewhere; status reports the store lock instead. */
  current(): Job | null {
    return null;
  }

  /** backupId null: a job about the store as a whole (cleanup). */
  private async record(kind: JobKind, actor: string, backupId: string | null, request: Record<string, unknown>): Promise<Job> {
    if (backupId !== null && !backupId) throw new ValidationError(`start ${kind}: a backup id is required`);
    const job: Job = { id: newJobId(this.engine.now()), kind, state: "queued", actor, createdAt: this.engine.now().toISOString(), ...(backupId ? { backupId } : {}), request };
    await saveJob(this.engine.storage, job);
    return job;
  }
}
