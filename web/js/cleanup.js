// Cleanup from the dashboard: preview what retention would remove, then run it on request; results go to `report`.
import { api, formatBytes } from "./api.js";
import { button } from "./parts.js";

const $ = (id) => document.getElementById(id);

/** `report(message, kind)` shows a result beside the cleanup button, `onError(err)` a failure, `onDone()` refreshes the page. */
export async function previewCleanup({ report, onError, onDone }) {
  try {
    const out = await api("/api/backup/cleanup", { method: "POST", body: { dryRun: true } });
    const box = $("cleanup-result");
    box.hidden = false;
    const list = document.createElement("ul");
    for (const r of out.remove) list.append(Object.assign(document.createElement("li"), { textContent: `${r.id}: ${r.reason}` }));
    const head = Object.assign(document.createElement("p"), { textContent: out.remove.length ? `Cleanup would remove ${out.remove.length} backups (${formatBytes(out.freedBytes)}) and keep ${out.keep.length}.` : `Nothing to remove; ${out.keep.length} backups are kept.` });
    const apply = button("Run cleanup now", async () => {
      try {
        const done = await api("/api/backup/cleanup", { method: "POST", body: { dryRun: false } });
        report(`Cleanup removed ${done.removed.length} backups (${formatBytes(done.freedBytes)}).`);
        box.hidden = true;
        await onDone();
      } catch (err) {
        onError(err);
      }
    }, "danger");
    apply.disabled = out.remove.length === 0;
    box.replaceChildren(head, list, apply);
  } catch (err) {
    onError(err);
  }
}
