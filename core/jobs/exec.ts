// Executing one recorded job: the work a job record stands for, and its state, progress and result saved as it runs.
import { runBackup } from "../backup.ts";
import { runCleanup } from "../cleanup.ts";
import type { Engine, Progress } from "../engine.ts";
import { BackupError, RestoreError, errorMessage } from "../errors.ts";
import { writeExport } from "../export-object.ts";
import { HEARTBEAT_MS } from "./deadline.ts";
import { saveJob, type Job } from "./records.ts";
import type { BackupType, ComponentName } from "../manifest.ts";
import { CONFIRM_TOKEN, runRestore } from "../restore.ts";
import { verifyBackup } from "../verify.ts";

type Work = (onProgress: (p: Progress) => void) => Promise<unknown>;

/** The operation a job record asks for. Restores were confirmed when the job was accepted, so the token is implied. */
export function workFor(engine: Engine, job: Job): Work {
  const r = job.request;
  const components = r.components as ComponentName[] | undefined;
  if (job.kind === "backup") {
    const scheduledAt = typeof r.scheduledAt === "string" ? new Date(r.scheduledAt) : undefined;
    return (onProgress) => runBackup(engine, { type: r.type as BackupType, description: r.description as string | undefined, components, scheduledAt, actor: job.actor, id: job.backupId, onProgress });
  }
  if (job.kind === "restore") {
    return (onProgress) => runRestore(engine, { backupId: job.backupId!, components: components ?? [], confirm: CONFIRM_TOKEN, actor: job.actor, jobId: job.id, onProgress, ...(Array.isArray(r.include) ? { include: r.include as string[] } : {}) });
  }
  if (job.kind === "verify") return (onProgress) => verifyBackup(engine, job.backupId!, onProgress, { actor: job.actor });
  if (job.kind === "cleanup") return () => runCleanup(engine, { dryRun: false, actor: job.actor });
  if (job.kind === "export") return (onProgress) => writeExport(engine, job.backupId!, onProgress);
  throw new BackupError(`run job ${job.id}: ${job.kind} jobs run inline, not as recorded jobs`);
}

/**
 * Runs the job to its end and returns it finished; never throws for a failure of the work itself. Every save refreshes
 * the job's heartbeat (updatedAt), and a timer saves at least every heartbeatMs while the work runs, so readers can fail
 * a job whose worker died (core/jobs/deadline.ts).
 */
export async function executeJob(engine: Engine, job: Job, work: Work = workFor(engine, job), opts: { heartbeatMs?: number } = {}): Promise<Job> {
  let saving: Promise<void> = Promise.resolve();
  // Saves run one after another so a late progress write can never overwrite the final state.
  const save = () => {
    job.updatedAt = engine.now().toISOString();
    const snapshot = { ...job };
    saving = saving.then(() => saveJob(engine.storage, snapshot)).catch((err) => engine.log.error("save job", { jobId: job.id, error: errorMessage(err) }));
    return saving;
  };
  let lastSaved = 0;
  Object.assign(job, { state: "running", startedAt: engine.now().toISOString() });
  await save();
  const heartbeat = setInterval(() => void save(), opts.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();
  try {
    const result = await work((p) => {
      job.progress = p;
      // Persist at most once a second: other processes (or the Lambda API) poll the stored copy.
      if (Date.now() - lastSaved > 1000) {
        lastSaved = Date.now();
        void save();
      }
    });
    const failed = job.kind === "verify" && (result as { ok?: boolean }).ok === false ? ((result as { error?: string }).error ?? "verification failed") : null;
    Object.assign(job, { state: failed ? "failed" : "succeeded", result, ...(failed ? { error: { code: "verify_failed", message: failed } } : {}) });
  } catch (err) {
    const code = err instanceof BackupError ? err.code : "internal_error";
    const rolledBack = err instanceof RestoreError ? { rolledBack: err.rolledBack } : {};
    Object.assign(job, { state: "failed", error: { code, message: errorMessage(err), ...rolledBack } });
    engine.log.error(`${job.kind} job failed`, { jobId: job.id, error: errorMessage(err) });
  }
  clearInterval(heartbeat);
  job.finishedAt = engine.now().toISOString();
  await save();
  return { ...job };
}
