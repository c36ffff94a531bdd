// The backup details dialog: facts, components, database facts, stored stats (v2), the manifest download, and the file browser.
import { api, formatBytes, formatTime } from "./api.js";
import { showFiles } from "./files.js";

const $ = (id) => document.getElementById(id);

function facts(pairs) {
  const dl = document.createElement("dl");
  dl.className = "facts";
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    const dt = Object.assign(document.createElement("dt"), { textContent: k });
    const dd = Object.assign(document.createElement("dd"), { textContent: String(v) });
    // Hashes are long unbroken strings: they wrap anywhere and are selectable in one piece.
    if (/^[0-9a-f]{64}$/.test(String(v))) dd.className = "hash";
    dl.append(dt, dd);
  }
  return dl;
}

function heading(text) {
  return Object.assign(document.createElement("h3"), { textContent: text });
}

function componentsTable(components) {
  const table = document.createElement("table");
  table.className = "stack";
  table.id = "details-components";
  const head = ["Component", "Status", "Files", "Size", "Stored pieces"];
  table.createTHead().append(Object.assign(document.createElement("tr"), {}));
  table.tHead.rows[0].append(...head.map((h) => Object.assign(document.createElement("th"), { scope: "col", textContent: h })));
  const body = table.createTBody();
  for (const [name, c] of Object.entries(components)) {
    const tr = body.insertRow();
    tr.dataset.component = name;
    const cells = [name, c.status === "included" ? "included" : `missing${c.note ? `: ${c.note}` : ""}`, String(c.fileCount), formatBytes(c.totalSize), c.blobCount === undefined ? "— (one archive)" : String(c.blobCount)];
    cells.forEach((text, i) => Object.assign(tr.insertCell(), { textContent: text }).setAttribute("data-label", head[i]));
  }
  return table;
}

function databaseFacts(db) {
  const wrap = document.createElement("div");
  wrap.id = "details-database";
  wrap.append(
    heading("Database"),
    facts([
      ["Integrity check", db.integrityCheck],
      ["Snapshot method", db.method === "backup-api" ? "SQLite online backup API" : "VACUUM INTO"],
      ["Journal mode", db.journalMode],
      ["Page size", `${db.pageSize} bytes`],
      ["Pages", db.pageCount],
      ["Snapshot size", db.snapshotSize === undefined ? undefined : formatBytes(db.snapshotSize)],
      ["Snapshot SHA-256", db.snapshotSha256],
      ["Source", db.sourcePath],
    ]),
  );
  const tables = Object.entries(db.tables);
  const list = document.createElement("ul");
  list.className = "db-tables";
  list.append(...tables.map(([t, n]) => Object.assign(document.createElement("li"), { textContent: `${t}: ${n} rows` })));
  wrap.append(Object.assign(document.createElement("p"), { textContent: `${tables.length} tables` }), list);
  return wrap;
}

function storedFacts(d) {
  if (d.formatVersion === 1 && d.archive) {
    return [heading("Archive"), facts([["Key", d.archive.key], ["Size", formatBytes(d.archive.sizeBytes)], ["SHA-256", d.archive.sha256], ["Verified", formatTime(d.archive.verifiedAt)]])];
  }
  const s = d.stored;
  if (!s) return [];
  const box = document.createElement("div");
  box.id = "details-stored";
  box.append(
    heading("Stored (content-addressed)"),
    facts([
      ["Referenced", `${formatBytes(s.referencedBytes)} in ${s.referencedBlobs} pieces`],
      ["Added by this backup", `${formatBytes(s.bytesAdded)} in ${s.blobsAdded} pieces, ${s.packsAdded} packs`],
      ["Files read", s.filesRead],
      ["Files reused unread", s.filesReused],
      ["Previous backup", s.previousId],
      ["Storage requests", s.requests],
      ["Verified", formatTime(s.verifiedAt)],
    ]),
  );
  return [box];
}

async function downloadManifest(id) {
  const res = await api(`/api/backup/${encodeURIComponent(id)}`, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: `${id}.manifest.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Opens the dialog for one backup; `onError(err)` reports a failure to load it beside the row that asked. */
export async function openDetails(id, { onError, onRestore }) {
  const d = await api(`/api/backup/${encodeURIComponent(id)}/details`);
  const dialog = $("details-dialog");
  $("details-title").textContent = `Backup ${id}`;
  const included = Object.values(d.components).filter((c) => c.status === "included");
  $("details-body").replaceChildren(
    facts([
      ["Type", d.type],
      ["Description", d.description || "—"],
      ["Created", formatTime(d.createdAt)],
      ["Completed", d.completedAt ? formatTime(d.completedAt) : undefined],
      ["Host", d.host],
      ["Format", d.formatVersion === 1 ? "1 (one .tar.gz archive)" : "2 (content-addressed pieces in packs)"],
      ["Files", `${included.reduce((n, c) => n + c.fileCount, 0)} (${formatBytes(included.reduce((n, c) => n + c.totalSize, 0))})`],
    ]),
    heading("Components"),
    componentsTable(d.components),
    ...(d.components.database?.database ? [databaseFacts(d.components.database.database)] : []),
    ...storedFacts(d),
  );
  $("details-manifest").onclick = () => downloadManifest(id).catch(onError);
  $("details-close").onclick = () => dialog.close();
  const restoreChosen = (paths) => {
    dialog.close(); // the restore dialog takes over, as from the Restore button
    onRestore(paths);
  };
  showFiles(id, Object.keys(d.components).filter((n) => d.components[n].status === "included"), { onError, onRestore: restoreChosen });
  dialog.showModal();
  $("details-close").focus();
}
