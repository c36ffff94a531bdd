// The dashboard: status, chart, backup list, actions, live job progress and the audit trail, all over the admin API.
import { api, ApiError, formatBytes, formatTime, takeTokenFromUrl, token } from "./api.js";
import { drawChart } from "./chart.js";
import { download } from "./download.js";
import { previewCleanup } from "./cleanup.js";
import { openDetails } from "./details.js";
import { loadAudit, loadTrails } from "./history.js";
import { button, cell, emptyRow, labelCells } from "./parts.js";
import { startPolling } from "./poll.js";
import { openRestore } from "./restore.js";
import { renderOverview } from "./overview.js";
import { renderResults, showResult } from "./results.js";
import { announceSignIn, announceSignOut, askOpenTabs, joinSession } from "./session.js";

const $ = (id) => document.getElementById(id);
const state = { page: 1, pageSize: 20, type: "", listKey: "" };
/** Jobs this page is already following, so a poll that sees one running does not follow it twice. */
const following = new Set();

/** The result slot beside a backup's row (verify, restore); results wait in results.js while the row is not shown. */
const rowSlot = (id) => document.getElementById(`result-${id}`) ?? Object.assign(document.createElement("div"), { id: `result-${id}` });
/** Reports a result beside the control that caused it; 401 and 403 concern the whole page, so they still go to the top. */
const reporter = (slot, action) => (message, kind = "info") => showResult(typeof slot === "function" ? slot() : slot, action, message, kind);
function failTo(report) {
  return (err) => {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return handleError(err);
    report(err.message, "error");
  };
}

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

async function loadStatus() {
  const s = await api("/api/backup/status");
  renderOverview(s);
  if (s.running.job && !following.has(s.running.job.id)) followJob(s.running.job.id, undefined, reporter($("job-result"), "job"));
}

async function loadList() {
  const q = new URLSearchParams({ page: String(state.page), pageSize: String(state.pageSize) });
  if (state.type) q.set("type", state.type);
  const list = await api(`/api/backup?${q}`);
  // A poll that finds nothing new leaves the rows alone, so focus and the admin's place on the page stay put.
  const key = JSON.stringify(list);
  if (key === state.listKey) return;
  state.listKey = key;
  const body = $("backups").tBodies[0];
  body.replaceChildren(
    ...list.items.flatMap((b) => {
      const tr = document.createElement("tr");
      tr.dataset.id = b.id;
      const actions = document.createElement("td");
      actions.className = "actions";
      actions.append(
        button("Details", () => {
          const report = reporter(() => rowSlot(b.id), "details");
          const restored = reporter(() => rowSlot(b.id), "restore");
          const restore = (include) => openRestore(b.id, { include, onStarted: (jobId) => followJob(jobId, `Restoring chosen files from ${b.id}`, restored), onError: failTo(restored) }).catch(failTo(restored));
          openDetails(b.id, { onError: failTo(report), onRestore: restore }).catch(failTo(report));
        }, "secondary"),
        button("Download", () => { const report = reporter(() => rowSlot(b.id), "download"); download(b.id, report).catch(failTo(report)); }),
        button("Verify", () => startJob(`/api/backup/${b.id}/verify`, {}, `Verifying ${b.id}`, reporter(() => rowSlot(b.id), "verify"))),
        button("Restore", () => {
          const report = reporter(() => rowSlot(b.id), "restore");
          openRestore(b.id, { onStarted: (jobId) => followJob(jobId, `Restoring from ${b.id}`, report), onError: failTo(report) }).catch(failTo(report));
        }),
        button("Delete", () => confirmDelete(b.id), "danger"),
      );
      for (const btn of actions.children) btn.setAttribute("aria-label", `${btn.textContent} ${b.id}`);
      tr.append(cell(formatTime(b.createdAt)), cell(b.type), cell(formatBytes(b.sizeBytes)), cell(b.description || "—"), actions);
      const resultRow = Object.assign(document.createElement("tr"), { className: "result-row" });
      const td = Object.assign(document.createElement("td"), { colSpan: 5 });
      const slot = Object.assign(document.createElement("div"), { id: `result-${b.id}`, className: "results", hidden: true });
      td.append(slot);
      resultRow.append(td);
      return [tr, resultRow];
    }),
  );
  labelCells($("backups"));
  for (const b of list.items) renderResults(rowSlot(b.id));
  if (list.items.length === 0) body.append(emptyRow(state.type ? `No ${state.type} backups; other types may exist (choose All).` : "No backups yet."));
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

/** Reloads everything; resolves false on failure so polling backs off. Signed out, there is nothing to load. */
async function refresh() {
  if (!token.get() || $("app").hidden) return true;
  try {
    await Promise.all([loadStatus(), loadList(), loadChart(), loadTrails()]);
    // A refresh that failed earlier (server restarting, network down) said so at the top; it is over now.
    if ($("notice").dataset.refresh) $("notice").hidden = true;
    delete $("notice").dataset.refresh;
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) handleError(err);
    else {
      notify(`Could not refresh the page: ${err.message}. Trying again with longer waits; what is shown may be out of date.`, "error");
      $("notice").dataset.refresh = "1";
    }
    return false;
  }
}

function confirmDelete(id) {
  const dialog = $("delete-dialog");
  $("delete-id").textContent = id;
  dialog.onclose = async () => {
    if (dialog.returnValue !== "delete") return;
    // The row goes away with the backup, so the result is shown above the list rather than beside the button.
    const report = reporter($("list-result"), `delete ${id}`);
    try {
      await api(`/api/backup/${id}`, { method: "DELETE" });
      report(`Deleted ${id}.`);
      await refresh();
    } catch (err) {
      failTo(report)(err);
    }
  };
  dialog.returnValue = "";
  dialog.showModal();
}

async function startJob(path, body, label, report) {
  try {
    const { jobId } = await api(path, { method: "POST", body });
    followJob(jobId, label, report);
  } catch (err) {
    failTo(report)(err);
  }
}

/** Shows a job's progress in the job box and its outcome through `report`, beside the action that started it. */
async function followJob(jobId, label, report) {
  if (following.has(jobId)) return;
  following.add(jobId);
  const box = $("job");
  box.hidden = false;
  $("create-button").disabled = true;
  for (;;) {
    let job;
    try {
      job = await api(`/api/backup/jobs/${jobId}`);
    } catch (err) {
      failTo(report)(err);
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
      const done = job.kind === "cleanup" && job.state === "succeeded" ? `Cleanup removed ${job.result.removed.length} backups (${formatBytes(job.result.freedBytes)}).${job.result.repack?.packsRepacked.length ? ` Repacked ${job.result.repack.packsRepacked.length} packs: ${formatBytes(job.result.repack.freeableBytes)} more is freed by the first cleanup an hour later.` : ""}` : `${what} succeeded.`;
      report(job.state === "succeeded" ? done : `${what} failed: ${job.error?.message ?? "unknown error"}`, job.state === "succeeded" ? "info" : "error");
      $("job-detail").textContent = job.state === "succeeded" && job.kind === "restore" ? `The replaced data is in ${job.result.preRestoreBackupId}.` : "";
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  $("create-button").disabled = following.size > 1;
  following.delete(jobId);
  await refresh();
}

function wire() {
  $("sign-in-form").onsubmit = (e) => {
    e.preventDefault();
    token.set($("token-input").value);
    $("token-input").value = "";
    announceSignIn();
    start();
  };
  $("sign-out").onclick = () => {
    token.clear();
    announceSignOut();
    showSignIn();
  };
  $("create-form").onsubmit = (e) => {
    e.preventDefault();
    const description = $("create-description").value.trim();
    startJob("/api/backup/create", { type: "manual", ...(description ? { description } : {}) }, "Manual backup", reporter($("create-result"), "backup"));
    $("create-description").value = "";
  };
  $("test-email").onclick = async () => {
    const report = reporter($("email-result"), "test-email");
    try {
      const r = await api("/api/backup/test-email", { method: "POST" });
      report(`Test email sent via ${r.transport}: ${r.detail}`);
    } catch (err) {
      failTo(report)(err);
    }
    loadAudit().catch(handleError); // the test email is in the audit trail now, sent or not
  };
  $("cleanup-preview").onclick = () => {
    const report = reporter($("cleanup-status"), "cleanup");
    previewCleanup({ report, onError: failTo(report), follow: (jobId) => followJob(jobId, "Cleanup", report) });
  };
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

const fromLink = takeTokenFromUrl();
wire();
// Signed in by a link, this tab tells tabs showing the sign-in form; with no token, it asks the open tabs for theirs.
joinSession({ onSignIn: start, onSignOut: () => showSignIn() });
if (fromLink) announceSignIn();
else await askOpenTabs();
start();
startPolling(refresh);
// Opening a sign-in link in a tab that already shows the dashboard only changes the fragment.
window.addEventListener("hashchange", () => {
  if (!/token=/.test(location.hash)) return;
  if (takeTokenFromUrl()) announceSignIn();
  start();
});
