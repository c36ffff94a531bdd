// The run history (each backup, verify, restore and cleanup run, failures included, with duration and size) and the audit trail.
import { api, formatBytes, formatTime } from "./api.js";
import { cell, emptyRow, labelCells } from "./parts.js";

const $ = (id) => document.getElementById(id);

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function sizeText(r) {
  if (r.sizeBytes === null) return "—";
  const size = r.action === "cleanup" ? `${formatBytes(r.sizeBytes)} freed` : formatBytes(r.sizeBytes);
  if (r.repack?.packsRepacked) return `${size}; ${r.repack.packsRepacked} packs repacked (${formatBytes(r.repack.bytesCopied)} copied, ${formatBytes(r.repack.freeableBytes)} freed by the next cleanup)`;
  return r.bytesAdded === undefined ? size : `${size} (${formatBytes(r.bytesAdded)} added, ${r.filesReused} files reused)`;
}

/** The newest audit record seen, and the one the run history was last drawn for: every run writes one, so equal means unchanged. */
let newestAudit = "";
let historyDrawnFor = null;

/** Reloads the audit trail, then the run history only if the trail changed: the history costs a catalog scan on the server. */
export async function loadTrails() {
  await loadAudit();
  if (historyDrawnFor !== newestAudit) await loadHistory();
}

async function loadHistory() {
  const drawnFor = newestAudit;
  const { items } = await api("/api/backup/runs?limit=20");
  const body = $("runs").tBodies[0];
  historyDrawnFor = drawnFor;
  if (items.length === 0) return body.replaceChildren(emptyRow("No runs yet: backups, verifies, restores and cleanups appear here, failed ones too.", 7));
  body.replaceChildren(
    ...items.map((r) => {
      const tr = document.createElement("tr");
      tr.className = r.result === "succeeded" ? "" : "failed";
      const result = r.result + (r.error ? `: ${r.error}` : "");
      for (const text of [formatTime(r.at), r.action, r.backupId ?? "—", result, formatDuration(r.durationMs), sizeText(r), r.actor]) {
        tr.insertCell().textContent = text;
      }
      return tr;
    }),
  );
  labelCells($("runs"));
}

export async function loadAudit() {
  const { items } = await api("/api/backup/audit?limit=20");
  newestAudit = items.length ? JSON.stringify(items[0]) : "";
  const body = $("audit").tBodies[0];
  if (items.length === 0) return body.replaceChildren(emptyRow("Nothing recorded yet: backups, verifies, restores, deletes, cleanups and test emails appear here."));
  body.replaceChildren(
    ...items.map((a) => {
      const tr = document.createElement("tr");
      tr.append(cell(formatTime(a.at)), cell(a.actor), cell(a.action), cell(a.backupId ?? "—"), cell(a.result + (a.error ? `: ${a.error}` : "")));
      return tr;
    }),
  );
  labelCells($("audit"));
}
