// Turns a finished job (or a backup outcome) into the lifecycle event that announces it.
import type { BackupOutcome } from "../backup.ts";
import type { CleanupOutcome } from "../cleanup.ts";
import type { Job } from "../jobs/records.ts";
import { backupSha256, backupSizeBytes, type StoredManifest } from "../manifest.ts";
import { manifestKey } from "../ids.ts";
import type { RestoreOutcome } from "../restore.ts";
import type { VerifyReport } from "../verify.ts";
import type { EventDetail, EventType } from "./schema.ts";

export type AnyEvent = { [T in EventType]: { type: T; detail: EventDetail<T> } }[EventType];

export function backupSucceededDetail(m: StoredManifest, durationMs: number, jobId?: string): EventDetail<"backup.succeeded"> {
  return {
    version: 1,
    ...(jobId ? { jobId } : {}),
    backupId: m.id,
    name: m.name,
    type: m.type,
    description: m.description,
    sizeBytes: backupSizeBytes(m),
    sha256: backupSha256(m) ?? "",
    durationMs,
    // A v2 backup is its manifest: there is no archive object.
    archiveKey: m.formatVersion === 1 ? m.archive.key : manifestKey(m.id),
    components: Object.fromEntries(
      Object.entries(m.components).map(([n, c]) => [n, { status: c.status, fileCount: c.fileCount, totalSize: c.totalSize, ...(c.note ? { note: c.note } : {}) }]),
    ),
  };
}

/** What a cleanup announces: retention's removals, and the packs it deleted and repacked. */
export function cleanupCompletedDetail(o: CleanupOutcome): EventDetail<"cleanup.completed"> {
  return {
    version: 1,
    removed: o.removed,
    freedBytes: o.freedBytes,
    kept: o.keep.length,
    leftoversRemoved: o.leftoversRemoved,
    packs: { removed: o.packs.packsRemoved.length, freedBytes: o.packs.freedBytes },
    repack: { packsRepacked: o.repack.packsRepacked.length, bytesCopied: o.repack.rewrittenBytes, freeableBytes: o.repack.freeableBytes, manifestsRewritten: o.repack.manifestsRewritten },
  };
}

/** The event for a finished job; null for outcomes nobody needs to hear about (a duplicate slot, a passing verify). */
export function eventForJob(job: Job): AnyEvent | null {
  const error = { code: job.error?.code ?? "internal_error", message: job.error?.message ?? "unknown error" };
  const components = (job.request.components as EventDetail<"restore.succeeded">["components"] | undefined) ?? [];
  if (job.kind === "backup") {
    const type = (job.request.type as EventDetail<"backup.failed">["type"]) ?? "manual";
    if (job.state === "failed") return { type: "backup.failed", detail: { version: 1, jobId: job.id, backupId: job.backupId, type, error } };
    const outcome = job.result as BackupOutcome | undefined;
    if (!outcome || outcome.skipped) return null;
    return { type: "backup.succeeded", detail: backupSucceededDetail(outcome.manifest, outcome.durationMs, job.id) };
  }
  if (job.kind === "restore") {
    const base = { version: 1 as const, jobId: job.id, backupId: job.backupId ?? "", components, actor: job.actor };
    if (job.state === "succeeded") {
      const r = job.result as RestoreOutcome;
      return { type: "restore.succeeded", detail: { ...base, preRestoreBackupId: r.preRestoreBackupId, durationMs: r.durationMs } };
    }
    return { type: job.error?.rolledBack ? "restore.rolled-back" : "restore.failed", detail: { ...base, error } };
  }
  if (job.kind === "cleanup" && job.state === "succeeded") {
    // The same announcement a scheduled cleanup makes (core/scheduled.ts).
    return { type: "cleanup.completed", detail: cleanupCompletedDetail(job.result as CleanupOutcome) };
  }
  if (job.kind === "verify" && job.state === "failed") {
    const report = job.result as VerifyReport | undefined;
    return { type: "verify.failed", detail: { version: 1, jobId: job.id, backupId: job.backupId ?? "", error: report?.error ?? error.message } };
  }
  return null;
}
