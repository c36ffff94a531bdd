// Small DOM builders and card texts the dashboard's tables and overview share.

/** The row a table shows when it has nothing to list, so an empty list never looks like one that failed to load. */
export function emptyRow(text, colSpan = 5) {
  const td = Object.assign(document.createElement("td"), { colSpan, className: "muted empty", textContent: text });
  const tr = document.createElement("tr");
  tr.append(td);
  return tr;
}

export function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

export function button(label, onClick, extra = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (extra) b.className = extra;
  b.onclick = onClick;
  return b;
}

/** Says where mail goes even when notices are off, because "Send test email" still sends through that transport. */
export function emailCard(e) {
  const via = e.transport === "outbox" ? "the outbox folder (not sent)" : e.transport;
  const state = e.enabled ? `notices on, via ${via}` : `notices off; a test email goes to ${via}`;
  return `${state}${e.lastResult ? `; last send ${e.lastResult.ok ? "ok" : "failed"}` : ""}`;
}

/** Gives each body cell its column's heading as data-label, which a phone shows beside the value when rows are stacked. */
export function labelCells(table) {
  const heads = [...table.tHead.rows[0].cells].map((th) => th.textContent);
  for (const tr of table.tBodies[0].rows) {
    if (tr.cells.length !== heads.length) continue; // empty-list and result rows span the table
    [...tr.cells].forEach((td, i) => (td.dataset.label = heads[i]));
  }
}
