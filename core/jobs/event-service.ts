// Jobs on AWS: the API records a job and publishes a *.requested event; the worker function does the work.
import type { Engine } from "../engine.ts";
import { ValidationError } from "../errors.ts";
import type { EventBus } from "../events/bus.ts";
import { newBackupId } from "../ids.ts";
import { newJobId, readJob, refuseWhileLocked, saveJob, type Job, type JobKind, type JobService } from "./records.ts";
import { checkRestoreRequest } from "../restore.ts";

export class EventJobService implements JobService {
  constructor(private readonly engine: Engine, private readonly bus: EventBus) {}

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
    const job = await this.record("restore", req.actor, req.backupId, { components });
    await this.bus.publish("restore.requested", { version: 1, jobId: job.id, backupId: req.backupId, components, actor: req.actor });
    return job;
  }

  async submitVerify(backupId: string, actor: string): Promise<Job> {
    const job = await this.record("verify", actor, backupId, {});
    await this.bus.publish("verify.requested", { version: 1, jobId: job.id, backupId, actor });
    return job;
  }

  get(id: string): Promise<Job> {
    return readJob(this.engine.storage, id);
  }

  /** The worker runs elsewhere; status reports the store lock instead. */
  current(): Job | null {
    return null;
  }

  private async record(kind: JobKind, actor: string, backupId: string, request: Record<string, unknown>): Promise<Job> {
    if (!backupId) throw new ValidationError(`start ${kind}: a backup id is required`);
    const job: Job = { id: newJobId(this.engine.now()), kind, state: "queued", actor, createdAt: this.engine.now().toISOString(), backupId, request };
    await saveJob(this.engine.storage, job);
    return job;
  }
}
