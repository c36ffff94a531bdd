// Cleanup from the dashboard: preview what retention would remove, then run it on request as a job.
import { api, formatBytes } from "./api.js";
import { button } from "./parts.js";

const $ = (id) => document.getElementById(id);

/** `onError(err)` shows a failure beside the cleanup button; `follow(jobId)` follows the cleanup job to its result. */
export async function previewCleanup({ onError, follow }) {
  try {
    const out = await api("/api/backup/cleanup", { method: "POST", body: { dryRun: true } });
    const box = $("cleanup-result");
    box.hidden = false;
    const list = document.createElement("ul");
    for (const r of out.remove) list.append(Object.assign(document.createElement("li"), { textContent: `${r.id}: ${r.reason}` }));
    const head = Object.assign(document.createElement("p"), { textContent: out.remove.length ? `Cleanup would remove ${out.remove.length} backups (${formatBytes(out.freedBytes)}) and keep ${out.keep.length}.` : `Nothing to remove; ${out.keep.length} backups are kept.` });
    // Packs partly in use whose used pieces cleanup would copy into new packs (v2 stores; absent before repacking existed).
    const r = out.repack;
    const repack = r && r.packsRepacked.length
      ? [Object.assign(document.createElement("p"), { textContent: `It would also repack ${r.packsRepacked.length} partly used packs (${formatBytes(r.packBytes)}), copying ${formatBytes(r.rewrittenBytes)} still in use; ${formatBytes(r.freeableBytes)} is freed by the first cleanup an hour later.` })]
      : [];
    const apply = button("Run cleanup now", async () => {
      try {
        // Deleting runs as a job (202): followed like a backup, its result reported when it ends.
        const { jobId } = await api("/api/backup/cleanup", { method: "POST", body: { dryRun: false } });
        box.hidden = true;
        await follow(jobId);
      } catch (err) {
        onError(err);
      }
    }, "danger");
    apply.disabled = out.remove.length === 0 && repack.length === 0 && !(out.packs?.packsRemoved.length);
    box.replaceChildren(head, list, ...repack, apply);
  } catch (err) {
    onError(err);
  }
}
