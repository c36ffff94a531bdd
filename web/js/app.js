// The dashboard: status, chart, backup list, actions, live job progress and the audit trail, all over the admin API.
import { api, ApiError, formatBytes, formatTime, takeTokenFromUrl, token } from "./api.js";
import { drawChart } from "./chart.js";
import { openRestore } from "./restore.js";

const $ = (id) => document.getElementById(id);
const state = { page: 1, pageSize: 20, type: "" };

function notify(message, kind = "info") {
  const box = $("notice");
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = false;
}

function handleError(err) {
  if (err instanceof ApiError && err.status === 401) {
    token.clear();
    showSignIn("Your sign-in has expired or is not valid; sign in again.");
    return;
  }
  if (err instanceof ApiError && err.status === 403) return notify("You are signed in, but only admins may manage backups.", "error");
  notify(err.message, "error");
}

function showSignIn(message) {
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  if (message) notify(message, "error");
  $("token-input").focus();
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function button(label, onClick, extra = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (extra) b.className = extra;
  b.onclick = onClick;
  return b;
}

async function loadStatus() {
  const s = await api("/api/backup/status");
  const banner = $("health");
  banner.hidden = false;
  banner.className = `banner ${s.health.healthy ? "healthy" : "unhealthy"}`;
  banner.textContent = s.health.healthy ? "Healthy: backups are up to date." : `Unhealthy: ${s.health.reasons.join("; ")}`;
  const next = Object.entries(s.scheduler.nextRuns).filter(([n]) => n !== "cleanup").map(([, v]) => v).filter(Boolean).sort()[0];
  const rows = [
    ["Backups", `${s.backups.total} (${Object.entries(s.backups.byType).filter(([, n]) => n).map(([t, n]) => `${t} ${n}`).join(", ") || "none"})`],
    ["Last backup", s.lastBackup ? `${formatTime(s.lastBackup.createdAt)} (${formatBytes(s.lastBackup.sizeBytes)})` : "none yet"],
    ["Next scheduled backup", next ? formatTime(next) : "none"],
    ["Scheduler", s.scheduler.initialized ? `running (${s.scheduler.timeZone})` : "not running in this process"],
    ["Storage used", formatBytes(s.storage.usedBytes) + (s.storage.freeBytes !== null ? `, ${formatBytes(s.storage.freeBytes)} free` : "")],
    ["Last verified", s.lastVerify ? `${s.lastVerify.backupId} at ${formatTime(s.lastVerify.at)}` : "never"],
    ["Email", `${s.email.enabled ? "enabled" : "disabled"}${s.email.lastResult ? `; last send ${s.email.lastResult.ok ? "ok" : "failed"}` : ""}`],
    ["Retention", `daily ${s.retention.daily}, weekly ${s.retention.weekly}, monthly ${s.retention.monthly}`],
  ];
  $("stats").replaceChildren(
    ...rows.map(([k, v]) => {
      const div = document.createElement("div");
      div.append(Object.assign(document.createElement("dt"), { textContent: k }), Object.assign(document.createElement("dd"), { textContent: v }));
      return div;
    }),
  );
  if (s.running.job && $("job").hidden) followJob(s.running.job.id);
}

async function loadList() {
  const q = new URLSearchParams({ page: String(state.page), pageSize: String(state.pageSize) });
  if (state.type) q.set("type", state.type);
  const list = await api(`/api/backup?${q}`);
  const body = $("backups").tBodies[0];
  body.replaceChildren(
    ...list.items.map((b) => {
      const tr = document.createElement("tr");
      tr.dataset.id = b.id;
      const actions = document.createElement("td");
      actions.className = "actions";
      actions.append(
        button("Download", () => download(b.id).catch(handleError)),
        button("Verify", () => startJob(`/api/backup/${b.id}/verify`, {}, `Verifying ${b.id}`)),
        button("Restore", () => openRestore(b.id, { onStarted: (jobId) => followJob(jobId, `Restoring from ${b.id}`), onError: handleError }).catch(handleError)),
        button("Delete", () => confirmDelete(b.id), "danger"),
      );
      for (const btn of actions.children) btn.setAttribute("aria-label", `${btn.textContent} ${b.id}`);
      tr.append(cell(formatTime(b.createdAt)), cell(b.type), cell(formatBytes(b.sizeBytes)), cell(b.description || "—"), actions);
      return tr;
    }),
  );
  if (list.items.length === 0) body.append(Object.assign(document.createElement("tr"), { innerHTML: '<td colspan="5" class="muted">No backups.</td>' }));
  showStoreProblems(list);
  const pages = Math.max(1, Math.ceil(list.total / list.pageSize));
  $("page-info").textContent = `Page ${list.page} of ${pages} (${list.total} backups)`;
  $("prev-page").disabled = list.page <= 1;
  $("next-page").disabled = list.page >= pages;
}

// Damaged manifests and archives without one: each may be a lost backup, so they are listed with the reason and a delete.
function showStoreProblems({ damaged = [], orphans = [] }) {
  const items = [
    ...damaged.map((d) => ({ id: d.id, text: `Damaged manifest ${d.key}: ${d.reason}` })),
    ...orphans.map((o) => ({ id: o.id, text: `Archive without a manifest ${o.key} (${formatBytes(o.sizeBytes)}, modified ${formatTime(o.modified)}); cleanup removes it after 7 days` })),
  ];
  $("store-problems").hidden = items.length === 0;
  $("store-problem-list").replaceChildren(
    ...items.map(({ id, text }) => {
      const li = Object.assign(document.createElement("li"), { textContent: `${text} ` });
      if (!id) return li;
      const del = button("Delete", () => confirmDelete(id), "danger");
      del.setAttribute("aria-label", `Delete ${id}`);
      li.append(del);
      return li;
    }),
  );
}

async function loadChart() {
  const list = await api("/api/backup?pageSize=200");
  drawChart($("chart"), list.items, formatBytes);
}

async function loadAudit() {
  const { items } = await api("/api/backup/audit?limit=20");
  $("audit").tBodies[0].replaceChildren(
    ...items.map((a) => {
      const tr = document.createElement("tr");
      tr.append(cell(formatTime(a.at)), cell(a.actor), cell(a.action), cell(a.backupId ?? "—"), cell(a.result + (a.error ? `: ${a.error}` : "")));
      return tr;
    }),
  );
}

async function refresh() {
  try {
    await Promise.all([loadStatus(), loadList(), loadChart(), loadAudit()]);
  } catch (err) {
    handleError(err);
  }
}

async function download(id) {
  const res = await api(`/api/backup/${id}/download`, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: `${id}.tar.gz` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function confirmDelete(id) {
  const dialog = $("delete-dialog");
  $("delete-id").textContent = id;
  dialog.onclose = async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api(`/api/backup/${id}`, { method: "DELETE" });
      notify(`Deleted ${id}.`);
      await refresh();
    } catch (err) {
      handleError(err);
    }
  };
  dialog.returnValue = "";
  dialog.showModal();
}

async function startJob(path, body, label) {
  try {
    const { jobId } = await api(path, { method: "POST", body });
    followJob(jobId, label);
  } catch (err) {
    handleError(err);
  }
}

async function followJob(jobId, label) {
  const box = $("job");
  box.hidden = false;
  $("create-button").disabled = true;
  for (;;) {
    let job;
    try {
      job = await api(`/api/backup/jobs/${jobId}`);
    } catch (err) {
      handleError(err);
      break;
    }
    $("job-label").textContent = `${label ?? `${job.kind} job`}: ${job.state}`;
    const p = job.progress;
    const bar = $("job-progress");
    if (p && p.total > 0) bar.value = Math.min(1, p.done / p.total);
    else bar.removeAttribute("value");
    $("job-detail").textContent = p ? `${p.phase}: ${p.phase === "swap" ? `${p.done}/${p.total}` : `${formatBytes(p.done)} of ${formatBytes(p.total)}`}` : "";
    if (job.state === "succeeded" || job.state === "failed") {
      bar.value = 1;
      const what = job.kind === "restore" ? `Restore from ${job.backupId}` : job.kind === "verify" ? `Verification of ${job.backupId}` : job.kind === "cleanup" ? "Cleanup" : `Backup ${job.backupId}`;
      const done = job.kind === "cleanup" && job.state === "succeeded" ? `Cleanup removed ${job.result.removed.length} backups (${formatBytes(job.result.freedBytes)}).` : `${what} succeeded.`;
      notify(job.state === "succeeded" ? done : `${what} failed: ${job.error?.message ?? "unknown error"}`, job.state === "succeeded" ? "info" : "error");
      $("job-detail").textContent = job.state === "succeeded" && job.kind === "restore" ? `The replaced data is in ${job.result.preRestoreBackupId}.` : "";
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  $("create-button").disabled = false;
  await refresh();
}

async function previewCleanup() {
  try {
    const out = await api("/api/backup/cleanup", { method: "POST", body: { dryRun: true } });
    const box = $("cleanup-result");
    box.hidden = false;
    const list = document.createElement("ul");
    for (const r of out.remove) list.append(Object.assign(document.createElement("li"), { textContent: `${r.id}: ${r.reason}` }));
    const head = Object.assign(document.createElement("p"), { textContent: out.remove.length ? `Cleanup would remove ${out.remove.length} backups (${formatBytes(out.freedBytes)}) and keep ${out.keep.length}.` : `Nothing to remove; ${out.keep.length} backups are kept.` });
    const apply = button("Run cleanup now", async () => {
      try {
        // Deleting runs as a job (202): followed like a backup, and announced when it ends.
        const { jobId } = await api("/api/backup/cleanup", { method: "POST", body: { dryRun: false } });
        box.hidden = true;
        await followJob(jobId, "Cleanup");
      } catch (err) {
        handleError(err);
      }
    }, "danger");
    apply.disabled = out.remove.length === 0;
    box.replaceChildren(head, list, apply);
  } catch (err) {
    handleError(err);
  }
}

function wire() {
  $("sign-in-form").onsubmit = (e) => {
    e.preventDefault();
    token.set($("token-input").value);
    $("token-input").value = "";
    start();
  };
  $("sign-out").onclick = () => {
    token.clear();
    showSignIn();
  };
  $("create-form").onsubmit = (e) => {
    e.preventDefault();
    const description = $("create-description").value.trim();
    startJob("/api/backup/create", { type: "manual", ...(description ? { description } : {}) }, "Manual backup");
    $("create-description").value = "";
  };
  $("test-email").onclick = async () => {
    try {
      const r = await api("/api/backup/test-email", { method: "POST" });
      notify(`Test email sent via ${r.transport}: ${r.detail}`);
    } catch (err) {
      handleError(err);
    }
  };
  $("cleanup-preview").onclick = previewCleanup;
  $("type-filter").onchange = (e) => {
    state.type = e.target.value;
    state.page = 1;
    loadList().catch(handleError);
  };
  $("prev-page").onclick = () => { state.page--; loadList().catch(handleError); };
  $("next-page").onclick = () => { state.page++; loadList().catch(handleError); };
}

function start() {
  if (!token.get()) return showSignIn();
  $("sign-in").hidden = true;
  $("notice").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  refresh();
}

takeTokenFromUrl();
wire();
start();
// Opening a sign-in link in a tab that already shows the dashboard only changes the fragment.
window.addEventListener("hashchange", () => {
  if (!/token=/.test(location.hash)) return;
  takeTokenFromUrl();
  start();
});
