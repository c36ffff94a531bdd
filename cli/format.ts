// Human-readable output for list, verify and status.
import type { StatusReport } from "../core/status.ts";
import type { VerifyReport } from "../core/verify.ts";
import { humanSize } from "../core/units.ts";

export function formatBackupList(rows: { id: string; type: string; createdAt: string; sizeBytes: number; description: string }[]): string {
  if (rows.length === 0) return "No backups yet. Run `colab-backup backup` to make one.";
  const lines = rows.map((r) => `${r.id.padEnd(40)} ${r.type.padEnd(11)} ${r.createdAt.slice(0, 19).replace("T", " ")}  ${humanSize(r.sizeBytes).padStart(11)}  ${r.description}`);
  return [`${"ID".padEnd(40)} ${"TYPE".padEnd(11)} ${"CREATED (UTC)".padEnd(19)}  ${"SIZE".padStart(11)}  DESCRIPTION`, ...lines].join("\n");
}

export function formatVerify(r: VerifyReport): string {
  const lines = Object.entries(r.components).map(([name, c]) => `  ${name.padEnd(9)} ${c.status.padEnd(11)} ${c.files} files, ${humanSize(c.bytes)}${c.detail ? `  (${c.detail})` : ""}`);
  return [
    `${r.ok ? "OK" : "FAILED"}: backup ${r.id}`,
    `  archive   ${r.archive.ok ? "ok" : "failed"}      sha256 ${r.archive.sha256 || "(not computed)"}`,
    ...lines,
    ...(r.error ? [`  error: ${r.error}`] : []),
  ].join("\n");
}

export function formatStatus(s: StatusReport): string {
  const counts = Object.entries(s.backups.byType).map(([t, n]) => `${t} ${n}`).join(", ");
  const next = Object.entries(s.schedules).map(([n, v]) => `  ${n.padEnd(8)} ${v.cron.padEnd(12)} next ${v.nextRun ?? "never"}`);
  return [
    `Backups: ${s.backups.total} (${counts}), ${humanSize(s.backups.totalBytes)}`,
    `Last backup: ${s.lastBackup ? `${s.lastBackup.id} at ${s.lastBackup.createdAt} (${humanSize(s.lastBackup.sizeBytes)})` : "none yet"}`,
    `Storage: ${s.storage.location}, ${humanSize(s.storage.usedBytes)} used${s.storage.freeBytes !== null ? `, ${humanSize(s.storage.freeBytes)} free` : ""}`,
    `Running now: ${s.running ? `${s.running.operation} since ${s.running.startedAt} (pid ${s.running.pid} on ${s.running.host})` : "nothing"}`,
    ...(s.interrupted ? [`Interrupted: ${s.interrupted.operation} started ${s.interrupted.startedAt} (pid ${s.interrupted.pid} on ${s.interrupted.host}): ${s.interrupted.detail}`] : []),
    `Retention: daily ${s.retention.daily}, weekly ${s.retention.weekly}, monthly ${s.retention.monthly}`,
    `Schedules (${s.timeZone}):`,
    ...next,
  ].join("\n");
}
