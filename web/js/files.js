// The file browser inside the details dialog: a filterable, paged list of one backup's files, read a page at a time from the API,
// with files and folders chosen across pages for "Restore selected…".
import { api, formatBytes, formatTime } from "./api.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 50;
const HEAD = ["Select", "Path", "Size", "Modified", "SHA-256"];
let current = { id: "", page: 1, under: "", seq: 0, selected: new Set() };

/** A checkbox that adds or removes `p` (a file, or a folder ending in "/") from the selection. */
function selectBox(p, label) {
  const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: current.selected.has(p) });
  box.dataset.path = p;
  box.setAttribute("aria-label", label);
  box.onchange = () => {
    if (box.checked) current.selected.add(p);
    else current.selected.delete(p);
    showSelection();
  };
  return box;
}

function showSelection() {
  const n = current.selected.size;
  $("files-restore").disabled = n === 0;
  $("files-selected").textContent = n ? `${n} chosen: ${[...current.selected].join(", ")}` : "None chosen.";
}

/** Opens folder `under` ("" for all files): the list shows only what lies beneath it. */
function openFolder(under) {
  current.under = under;
  current.page = 1;
  $("files-folder").hidden = !under;
  $("files-folder-name").textContent = under;
  $("files-folder-pick").replaceChildren(...(under ? [selectBox(under, `Select folder ${under}`), " Select this folder"] : []));
  return load();
}

/** The path cell: the folder as a button that opens it, then the file's name. */
function pathCell(p) {
  const cut = p.lastIndexOf("/");
  if (cut < 0) return [p];
  const folder = p.slice(0, cut + 1);
  const open = Object.assign(document.createElement("button"), { type: "button", className: "link folder", textContent: folder });
  open.setAttribute("aria-label", `Open folder ${folder}`);
  open.onclick = () => openFolder(folder).catch(current.onError);
  return [open, p.slice(cut + 1)];
}

function row(f) {
  const tr = document.createElement("tr");
  tr.dataset.path = f.path;
  const size = formatBytes(f.size) + (f.originalSize !== undefined ? ` (${formatBytes(f.originalSize)} uncompressed)` : "");
  const hash = Object.assign(document.createElement("code"), { textContent: f.sha256.slice(0, 12), title: f.sha256 });
  const cells = [[selectBox(f.path, `Select ${f.path}`)], pathCell(f.path), [size], [f.mtime ? formatTime(f.mtime) : "—"], [hash]];
  cells.forEach((v, i) => {
    const td = tr.insertCell();
    td.dataset.label = HEAD[i];
    if (i === 4) td.className = "hash";
    td.append(...v);
  });
  return tr;
}

async function load() {
  const seq = ++current.seq;
  const q = new URLSearchParams({ page: String(current.page), pageSize: String(PAGE_SIZE) });
  const text = $("files-q").value.trim();
  if (text) q.set("q", text);
  if ($("files-component").value) q.set("component", $("files-component").value);
  if (current.under) q.set("under", current.under);
  const out = await api(`/api/backup/${encodeURIComponent(current.id)}/files?${q}`);
  // Typing fast starts several loads; only the newest may draw.
  if (seq !== current.seq) return;
  const body = $("files").tBodies[0];
  body.replaceChildren(...out.items.map(row));
  if (out.items.length === 0) {
    const td = Object.assign(document.createElement("td"), { colSpan: 5, className: "muted empty", textContent: text ? `No file's path contains "${text}".` : "This backup holds no files here." });
    body.insertRow().append(td);
  }
  const pages = Math.max(1, Math.ceil(out.total / out.pageSize));
  $("files-summary").textContent = `${out.total} files (${formatBytes(out.totalSize)})${text || $("files-component").value || current.under ? " match" : ""}.`;
  $("files-page").textContent = `Page ${out.page} of ${pages}`;
  $("files-prev").disabled = out.page <= 1;
  $("files-next").disabled = out.page >= pages;
}

/**
 * Shows the first page of backup `id`'s files; the component filter offers only the components it includes.
 * `onRestore(paths)` is called by "Restore selected…" with the chosen files and folders (folders without their "/").
 */
export function showFiles(id, components, { onError, onRestore }) {
  current = { id, page: 1, under: "", seq: current.seq, onError, selected: new Set() };
  $("files-folder-pick").replaceChildren();
  showSelection();
  $("files-restore").onclick = () => onRestore([...current.selected].map((p) => p.replace(/\/$/, "")));
  $("files-q").value = "";
  $("files-folder").hidden = true;
  const select = $("files-component");
  select.replaceChildren(new Option("All", ""), ...components.map((c) => new Option(c, c)));
  const reload = () => load().catch(onError);
  let timer;
  $("files-q").oninput = () => {
    clearTimeout(timer);
    current.page = 1;
    timer = setTimeout(reload, 200);
  };
  $("files-form").onsubmit = (e) => {
    e.preventDefault();
    current.page = 1;
    reload();
  };
  select.onchange = () => {
    current.page = 1;
    reload();
  };
  $("files-up").onclick = () => openFolder(current.under.replace(/[^/]+\/$/, "")).catch(onError);
  $("files-all").onclick = () => openFolder("").catch(onError);
  $("files-prev").onclick = () => { current.page--; reload(); };
  $("files-next").onclick = () => { current.page++; reload(); };
  reload();
}
