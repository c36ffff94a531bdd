// The dashboard's status: core's store status plus jobs, scheduler, email, and the dead-man's switch health verdict.
import { scanCatalog } from "../core/catalog-scan.ts";
import { readAudit } from "../core/catalog.ts";
import { healthVerdict } from "../core/health.ts";
import { getStatus } from "../core/status.ts";
import type { ApiDeps } from "./deps.ts";
import { newest as newerResult, readEmailStatus } from "../core/notify/email-status.ts";
import type { SendResult } from "../core/notify/notifications.ts";

const pickEmail = (r: SendResult | null) => (r ? { at: r.at, ok: r.ok, detail: r.detail } : null);

// Jobs and audit records are one small object each; this many covers days of activity without a slow status call.
const RECENT_JOBS = 100;
const RECENT_AUDIT = 100;

export async function buildStatus(deps: ApiDeps) {
  const { engine } = deps;
  const scan = await scanCatalog(engine.storage, undefined, { cachedListing: true });
  const [core, jobs, storedEmail, audit] = await Promise.all([
    getStatus(engine, deps.localDir, scan),
    // Through the job service, so a job whose worker died shows as failed, not running for ever.
    deps.jobs.list(RECENT_JOBS),
    readEmailStatus(engine.storage),
    readAudit(engine.storage, RECENT_AUDIT),
  ]);
  const lastBackupJob = jobs.find((j) => j.kind === "backup");
  // From the audit trail rather than jobs, so a verify run by the CLI counts too; a --quick one read no contents, so it does not.
  const lastVerify = audit.find((a) => a.action === "verify" && a.result === "succeeded" && a.detail?.quick !== true);
  // The verdict is core's, so the CLI's `status` gives the same one.
  const health = healthVerdict({ scan, interrupted: core.interrupted, now: engine.now(), maxAgeHours: deps.healthMaxAgeHours });
  return {
    backups: core.backups,
    lastBackup: core.lastBackup ? { ...core.lastBackup, result: "succeeded" as const } : null,
    lastBackupJob: lastBackupJob
      ? { id: lastBackupJob.id, state: lastBackupJob.state, backupId: lastBackupJob.backupId, finishedAt: lastBackupJob.finishedAt, error: lastBackupJob.error?.message }
      : null,
    lastVerify: lastVerify ? { backupId: lastVerify.backupId, at: lastVerify.at, actor: lastVerify.actor } : null,
    storage: core.storage,
    catalog: core.catalog,
    scheduler: {
      // Without a scheduler in this process (e.g. on Lambda) the next runs still follow from the configured crons.
      initialized: deps.scheduler?.initialized ?? false,
      timeZone: core.timeZone,
      nextRuns: deps.scheduler ? deps.scheduler.nextRuns() : Object.fromEntries(Object.entries(core.schedules).map(([name, s]) => [name, s.nextRun])),
    },
    // On AWS the notifier function sends, so its results arrive through the store.
    email: { enabled: deps.notifications.enabled, transport: deps.notifications.transport, lastResult: pickEmail(newerResult(deps.notifications.lastResult() as SendResult | null, storedEmail)) },
    running: { job: deps.jobs.current(), lock: core.running },
    interrupted: core.interrupted,
    retention: core.retention,
    health,
  };
}
