// Notification emails: one function per kind, each giving a subject and matching text and HTML bodies.
import type { EventDetail } from "../events/schema.ts";
import { humanSize } from "../units.ts";

export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Both bodies from one list of rows, so text and HTML always say the same thing. */
function render(subject: string, intro: string, rows: [string, string][], footer = ""): Rendered {
  const width = Math.max(...rows.map(([k]) => k.length), 0);
  const text = [intro, "", ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`), ...(footer ? ["", footer] : []), "", "-- colab-backup"].join("\n");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif">
<p>${esc(intro)}</p>
<table cellpadding="4" style="border-collapse:collapse">${rows.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>
${footer ? `<p>${esc(footer).replace(/\n/g, "<br>")}</p>` : ""}<p style="color:#666">-- colab-backup</p></body></html>`;
  return { subject: `[colab-backup] ${subject}`, text, html };
}

export function backupSucceeded(b: EventDetail<"backup.succeeded">): Rendered {
  const components = Object.entries(b.components).map(([n, c]) => (c.status === "included" ? `${n} (${c.fileCount} files, ${humanSize(c.totalSize)})` : `${n} (missing: ${c.note ?? "?"})`));
  return render(`${b.type} backup succeeded: ${b.backupId}`, `The ${b.type} backup completed and was verified.`, [
    ["ID", b.backupId],
    ["Name", b.name],
    ["Type", b.type],
    ["Size", humanSize(b.sizeBytes)],
    ["Duration", `${(b.durationMs / 1000).toFixed(1)} s`],
    ["Components", components.join(", ")],
    ["SHA-256", b.sha256],
    ...(b.description ? ([["Description", b.description]] as [string, string][]) : []),
  ]);
}

export function restoreFinished(kind: "succeeded" | "failed" | "rolled-back", r: { backupId: string; components: string[]; actor: string; preRestoreBackupId?: string; error?: string }): Rendered {
  const subject = kind === "succeeded" ? `restore from ${r.backupId} succeeded` : kind === "rolled-back" ? `restore from ${r.backupId} FAILED and was rolled back` : `restore from ${r.backupId} FAILED`;
  const intro = kind === "succeeded" ? "A restore replaced live CRM data." : kind === "rolled-back" ? "A restore failed; every component it had replaced was put back." : "A restore failed before or while replacing live data.";
  return render(subject, intro, [
    ["Backup", r.backupId],
    ["Components", r.components.join(", ")],
    ["Requested by", r.actor],
    ...(r.preRestoreBackupId ? ([["Replaced data kept in", r.preRestoreBackupId]] as [string, string][]) : []),
    ...(r.error ? ([["Error", r.error]] as [string, string][]) : []),
  ], kind === "failed" ? "If the message says the rollback was incomplete, restore the pre-restore backup named in the audit log." : "");
}

export function verifyFailed(v: EventDetail<"verify.failed">): Rendered {
  return render(`verification of ${v.backupId} FAILED`, "A stored backup no longer matches its manifest; do not rely on it for a restore.", [
    ["Backup", v.backupId],
    ["Problem", v.error],
  ], "Take a fresh backup now, and check the storage the backups live on.");
}

export function backupFailed(type: string, error: string, at: Date): Rendered {
  return render(`${type} backup FAILED`, `The ${type} backup did not complete. Nothing half-written is listed; the previous backups are untouched.`, [
    ["Type", type],
    ["When", at.toISOString()],
    ["Error", error],
  ], "What to check:\n- the database path (DATABASE_PATH / CRM_ROOT) and that the CRM is not holding a long write transaction\n- free disk space where BACKUP_DIR lives\n- read permission on the CRM folder and write permission on BACKUP_DIR\nThen run `colab-backup backup` by hand to see the full message.");
}

export function cleanupCompleted(o: EventDetail<"cleanup.completed">): Rendered {
  return render(`cleanup removed ${o.removed.length} backup(s)`, "Retention cleanup finished.", [
    ["Removed", o.removed.length ? o.removed.join(", ") : "none"],
    ["Freed", humanSize(o.freedBytes)],
    ["Kept", String(o.kept)],
    ["Leftovers removed", String(o.leftoversRemoved.length)],
    ...(o.packs ? [["Unused packs deleted", `${o.packs.removed} (${humanSize(o.packs.freedBytes)}, counted in Freed)`] as [string, string]] : []),
    ...(o.repack
      ? [
          ["Packs repacked", `${o.repack.packsRepacked} (${o.repack.manifestsRewritten} backup(s) pointed at the copies)`],
          ["Copied by repacking", humanSize(o.repack.bytesCopied)],
          ["Freed by the next cleanup", `${humanSize(o.repack.freeableBytes)} (the repacked packs, deleted an hour or more later)`],
        ] as [string, string][]
      : []),
  ]);
}

export function systemInitialized(info: { host: string; schedules: Record<string, string>; timeZone: string; store: string }): Rendered {
  return render("backup system started", `colab-backup started on ${info.host}; scheduled backups are active.`, [
    ...Object.entries(info.schedules).map(([k, v]) => [`Schedule ${k}`, v] as [string, string]),
    ["Time zone", info.timeZone],
    ["Store", info.store],
  ]);
}

export function criticalError(context: string, error: string): Rendered {
  return render(`CRITICAL: ${context}`, `colab-backup hit an error it could not recover from: ${context}.`, [["Error", error]], "Check the server log; backups may not be running until this is fixed.");
}

export function testEmail(actor: string, transport: string): Rendered {
  return render("test email", "This is a test of the backup notification settings. If you can read it, email works.", [
    ["Requested by", actor],
    ["Transport", transport],
    ["Sent at", new Date().toISOString()],
  ]);
}
