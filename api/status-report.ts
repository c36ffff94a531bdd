// The dashboard's status: core's store status plus jobs, scheduler, email, and the dead-man's switch health verdict.
import { scanCatalog, type CatalogScan } from "../core/catalog-scan.ts";
import { listJobs } from "../core/jobs.ts";
import { getStatus } from "../core/status.ts";
import { ORPHAN_GRACE_MS } from "../core/store-leftovers.ts";
import type { ApiDeps } from "./deps.ts";
import { newest as newerResult, readEmailStatus } from "../core/notify/email-status.ts";
import type { SendResult } from "../core/notify/notifications.ts";

const pickEmail = (r: SendResult | null) => (r ? { at: r.at, ok: r.ok, detail: r.detail } : null);

export const DEFAULT_HEALTH_MAX_AGE_HOURS = 26;
// pre-restore backups are made by restores, not by the schedule, so they must not keep the switch quiet.
const HEALTH_TYPES = new Set(["daily", "weekly", "monthly", "manual"]);
// Jobs are one small object each; this many covers days of activity without a slow status call.
const RECENT_JOBS = 100;

export async function buildStatus(deps: ApiDeps) {
  const { engine } = deps;
  const scan = await scanCatalog(engine.storage);
  const { backups } = scan;
  const [core, jobs, storedEmail] = await Promise.all([
    getStatus(engine, deps.localDir, scan),
    listJobs(engine.storage, RECENT_JOBS),
    readEmailStatus(engine.storage),
  ]);
  const lastBackupJob = jobs.find((j) => j.kind === "backup");
  const lastVerify = jobs.find((j) => j.kind === "verify" && j.state === "succeeded");
  const maxAgeHours = deps.healthMaxAgeHours ?? DEFAULT_HEALTH_MAX_AGE_HOURS;
  const newest = backups.find((b) => HEALTH_TYPES.has(b.type));
  const reasons: string[] = [];
  if (!newest) {
    reasons.push("no successful backup exists yet; run one now");
  } else {
    const ageHours = (engine.now().getTime() - Date.parse(newest.createdAt)) / 3_600_000;
    if (ageHours > maxAgeHours) {
      reasons.push(`the newest successful backup (${newest.id}) is ${Math.floor(ageHours)} hours old, over the ${maxAgeHours}-hour limit; check the scheduler and the last job's error`);
    }
  }
  if (core.interrupted) reasons.push(`an interrupted ${core.interrupted.operation} (started ${core.interrupted.startedAt}) is waiting to be ended: ${core.interrupted.detail}`);
  reasons.push(...storeProblems(scan));
  return {
    backups: core.backups,
    lastBackup: core.lastBackup ? { ...core.lastBackup, result: "succeeded" as const } : null,
    lastBackupJob: lastBackupJob
      ? { id: lastBackupJob.id, state: lastBackupJob.state, backupId: lastBackupJob.backupId, finishedAt: lastBackupJob.finishedAt, error: lastBackupJob.error?.message }
      : null,
    lastVerify: lastVerify ? { jobId: lastVerify.id, backupId: lastVerify.backupId, at: lastVerify.finishedAt ?? lastVerify.createdAt } : null,
    storage: core.storage,
    catalog: core.catalog,
    scheduler: {
      // Without a scheduler in this process (e.g. on Lambda) the next runs still follow from the configured crons.
      initialized: deps.scheduler?.initialized ?? false,
      timeZone: core.timeZone,
      nextRuns: deps.scheduler ? deps.scheduler.nextRuns() : Object.fromEntries(Object.entries(core.schedules).map(([name, s]) => [name, s.nextRun])),
    },
    // On AWS the notifier function sends, so its results arrive through the store.
    email: { enabled: deps.notifications.enabled, lastResult: pickEmail(newerResult(deps.notifications.lastResult() as SendResult | null, storedEmail)) },
    running: { job: deps.jobs.current(), lock: core.running },
    interrupted: core.interrupted,
    retention: core.retention,
    health: { healthy: reasons.length === 0, maxAgeHours, reasons },
  };
}

/** Damaged manifests and orphan archives need a person: each is a backup that may be lost, so the switch speaks up. */
function storeProblems(scan: CatalogScan): string[] {
  const reasons: string[] = [];
  const { damaged, orphans } = scan;
  if (damaged.length) {
    reasons.push(`${damaged.length} damaged manifest${damaged.length === 1 ? "" : "s"} in the store (${damaged.map((d) => `${d.key}: ${d.reason}`).join("; ")}); repair or delete ${damaged.length === 1 ? "it" : "them"} by id`);
  }
  if (orphans.length) {
    reasons.push(`${orphans.length} archive${orphans.length === 1 ? "" : "s"} without a manifest (${orphans.map((o) => o.key).join(", ")}); rescue or delete ${orphans.length === 1 ? "it" : "them"} by id, or cleanup removes ${orphans.length === 1 ? "it" : "them"} after ${ORPHAN_GRACE_MS / 86_400_000} days`);
  }
  return reasons;
}
