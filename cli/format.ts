// Human-readable output for list, verify, cleanup and status.
import type { CatalogScan } from "../core/catalog-scan.ts";
import type { CleanupOutcome } from "../core/cleanup.ts";
import type { HealthVerdict } from "../core/health.ts";
import type { StatusReport } from "../core/status.ts";
import { ORPHAN_GRACE_MS } from "../core/store-leftovers.ts";
import type { VerifyReport } from "../core/verify.ts";
import { humanSize } from "../core/units.ts";

export function formatBackupList(rows: { id: string; type: string; createdAt: string; sizeBytes: number; description: string }[], empty?: string): string {
  if (rows.length === 0) return empty ?? "No backups yet. Run `colab-backup backup` to make one.";
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

const GRACE_DAYS = ORPHAN_GRACE_MS / 86_400_000;

/** Damaged manifests, orphan archives and interrupted runs, one per line with the key and why; "" when there are none. */
export function formatStoreProblems(p: Pick<CatalogScan, "damaged" | "orphans" | "incomplete">): string {
  const lines = [
    ...(p.damaged.length ? [`Damaged manifests (${p.damaged.length}; not usable, never removed by cleanup; \`colab-backup delete <id>\` removes one):`] : []),
    ...p.damaged.map((d) => `  ${d.key}: ${d.reason}`),
    ...(p.orphans.length ? [`Archives without a manifest (${p.orphans.length}; cleanup removes them after ${GRACE_DAYS} days, \`colab-backup delete <id>\` now):`] : []),
    ...p.orphans.map((o) => `  ${o.key}: ${humanSize(o.sizeBytes)}, last modified ${o.modified}`),
    ...(p.incomplete.length ? [`Interrupted backups (${p.incomplete.length}; the next backup or cleanup removes them):`] : []),
    ...p.incomplete.map((i) => `  ${i.id}: started ${i.startedAt ?? "at an unknown time"}${i.pid !== null ? ` by pid ${i.pid}` : ""}${i.host ? ` on ${i.host}` : ""}${i.archive ? `, left ${i.archive.key} (${humanSize(i.archive.sizeBytes)})` : ""}`),
  ];
  return lines.join("\n");
}

export function formatCleanupProblems(o: Pick<CleanupOutcome, "dryRun" | "damaged" | "orphansRemoved" | "orphansKept" | "leftoversRemoved" | "packs" | "repack">): string[] {
  const p = o.packs;
  const r = o.repack;
  return [
    ...(p.packsRemoved.length ? [`  ${o.dryRun ? "would remove" : "removed"} ${p.packsRemoved.length} unreferenced pack(s) (${humanSize(p.freedBytes)})`] : []),
    ...(p.packsKeptYoung ? [`  kept ${p.packsKeptYoung} unreferenced pack(s) written in the last hour (a backup may still need them)`] : []),
    ...(p.partlyReferenced.packs ? [`  ${p.partlyReferenced.packs} pack(s) still in use also hold ${humanSize(p.partlyReferenced.unreferencedBytes)} no backup needs`] : []),
    ...(p.packsKeptRepacked ? [`  kept ${p.packsKeptRepacked} repacked pack(s) for an hour after their repack (a backup may still need them)`] : []),
    ...(r.packsRepacked.length
      ? [`  ${o.dryRun ? "would repack" : "repacked"} ${r.packsRepacked.length} pack(s) of ${humanSize(r.packBytes)}, rewriting ${humanSize(r.rewrittenBytes)}: ${humanSize(r.freeableBytes)} ${o.dryRun ? "would be" : "are"} freed by the first cleanup an hour after the repack`]
      : []),
    ...(r.manifestsRewritten ? [`  pointed ${r.manifestsRewritten} manifest(s) at the repacked blobs`] : []),
    ...(p.blockedBy ? [`  ${o.dryRun ? "would delete" : "deleted"} no packs: ${p.blockedBy}`] : []),
    ...(r.blockedBy && r.blockedBy !== p.blockedBy ? [`  repacked nothing: ${r.blockedBy}`] : []),
    ...r.failures.map((f) => `  could not ${f}`),
    ...p.failures.map((f) => `  could not ${f}`),
    ...o.leftoversRemoved.map((id) => `  removed the incomplete archive of interrupted backup ${id}`),
    ...o.orphansRemoved.map((r) => `  removed ${r.key}: no manifest for over ${GRACE_DAYS} days`),
    ...o.orphansKept.map((r) => `  kept ${r.key}: no manifest; removable after ${r.removableAfter}`),
    ...o.damaged.map((d) => `  kept ${d.key} and its archive: ${d.reason}`),
  ];
}

export function formatStatus(s: StatusReport, health: HealthVerdict): string {
  const counts = Object.entries(s.backups.byType).map(([t, n]) => `${t} ${n}`).join(", ");
  const problems = formatStoreProblems(s.catalog);
  const next = Object.entries(s.schedules).map(([n, v]) => `  ${n.padEnd(8)} ${v.cron.padEnd(12)} next ${v.nextRun ?? "never"}`);
  return [
    health.healthy ? `Health: OK (a backup within the last ${health.maxAgeHours} hours, nothing needs attention)` : `Health: ATTENTION NEEDED`,
    ...health.reasons.map((r) => `  - ${r}`),
    `Backups: ${s.backups.total} (${counts}), ${humanSize(s.backups.totalBytes)}`,
    `Last backup: ${s.lastBackup ? `${s.lastBackup.id} at ${s.lastBackup.createdAt} (${humanSize(s.lastBackup.sizeBytes)})` : "none yet"}`,
    `Storage: ${s.storage.location}, ${humanSize(s.storage.usedBytes)} used${s.storage.freeBytes !== null ? `, ${humanSize(s.storage.freeBytes)} free` : ""}, ${humanSize(s.storage.workBytes)} in work files`,
    `Store problems: ${s.catalog.damaged.length} damaged manifest(s), ${s.catalog.orphans.length} archive(s) without a manifest, ${s.catalog.incomplete.length} interrupted backup(s)`,
    `Running now: ${s.running ? `${s.running.operation} since ${s.running.startedAt} (pid ${s.running.pid} on ${s.running.host})` : "nothing"}`,
    ...(s.interrupted ? [`Interrupted: ${s.interrupted.operation} started ${s.interrupted.startedAt} (pid ${s.interrupted.pid} on ${s.interrupted.host}): ${s.interrupted.detail}`] : []),
    `Retention: daily ${s.retention.daily}, weekly ${s.retention.weekly}, monthly ${s.retention.monthly}`,
    `Schedules (${s.timeZone}):`,
    ...next,
    ...(problems ? [problems] : []),
  ].join("\n");
}
