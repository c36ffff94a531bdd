// `colab-backup ls <id|latest> [PATH]` and `colab-backup diff <id1> <id2>`: a backup's files, and what changed between two.
import { diffBackups, type BackupDiff, type ComponentDiff } from "../core/backup-diff.ts";
import { listBackupFiles, type Listing } from "../core/browse.ts";
import { latestBackup, readManifest } from "../core/catalog.ts";
import { ValidationError } from "../core/errors.ts";
import { isBackupId } from "../core/ids.ts";
import type { StoredManifest } from "../core/manifest.ts";
import type { Storage } from "../core/storage/storage.ts";
import { humanSize } from "../core/units.ts";
import type { Command } from "./commands.ts";

function idOrLatest(id: string): string {
  if (id !== "latest" && !isBackupId(id)) throw new ValidationError(`"${id}" is not a backup id (they look like daily-20261126T020000Z-1a2b3c) or 'latest'; run \`colab-backup list\``);
  return id;
}

async function manifestFor(storage: Storage, arg: string): Promise<StoredManifest> {
  return readManifest(storage, arg === "latest" ? (await latestBackup(storage)).id : arg);
}

/** "2026-11-26T02:00:00.123Z" -> "2026-11-26 02:00:00": one width, in UTC like the backup ids. */
const shortTime = (iso?: string) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "-");

export function formatListing(l: Listing): string {
  const head = `Backup ${l.id} (format v${l.format}, ${l.createdAt})${l.under ? `, under ${l.under}` : ""}:`;
  const sizes = l.files.map((f) => humanSize(f.size));
  const cw = Math.max(9, ...l.files.map((f) => f.component.length));
  const sw = Math.max(4, ...sizes.map((s) => s.length));
  const rows = l.files.map((f, i) => `  ${f.component.padEnd(cw)}  ${sizes[i]!.padStart(sw)}  ${shortTime(f.mtime).padEnd(19)}  ${f.path}`);
  const missing = l.missing.map((m) => `  ${m.component}: not in this backup${m.note ? ` (${m.note})` : ""}`);
  return [head, `  ${"component".padEnd(cw)}  ${"size".padStart(sw)}  ${"modified (UTC)".padEnd(19)}  path`, ...rows, `${l.files.length} file${l.files.length === 1 ? "" : "s"}, ${humanSize(l.totalSize)}`, ...(l.under ? [] : missing)].join("\n");
}

export const ls: Command<{ arg: string; under?: string }> = {
  options: {},
  parse(input) {
    const [id, under, ...extra] = input.positionals;
    if (!id) throw new ValidationError("ls needs a backup id or 'latest', and optionally a PATH inside it; run `colab-backup list` to see the ids");
    if (extra.length) throw new ValidationError(`ls takes a backup id and one PATH; got also ${extra.join(" ")} (quote a path with spaces)`);
    return { arg: idOrLatest(id), under };
  },
  async run(ctx, { arg, under }) {
    const listing = listBackupFiles(await manifestFor(ctx.runtime.engine.storage, arg), under);
    return { json: { ok: true, ...listing }, text: formatListing(listing) };
  },
};

const signed = (n: number) => `${n >= 0 ? "+" : "-"}${humanSize(Math.abs(n))}`;

function componentLines(d: ComponentDiff, before: string, after: string): string[] {
  if (d.before === "missing" && d.after === "missing") return [`${d.component}: in neither backup`];
  const presence = d.before !== d.after ? ` (only in ${d.before === "included" ? before : after})` : "";
  const counts = d.added.length + d.removed.length + d.changed.length === 0
    ? `unchanged (${d.unchanged} files)`
    : `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`;
  return [
    `${d.component}: ${counts}${presence}`,
    ...d.added.map((f) => `  + ${f.path}  ${humanSize(f.size)}`),
    ...d.removed.map((f) => `  - ${f.path}  ${humanSize(f.size)}`),
    ...d.changed.map((f) => `  M ${f.path}  ${humanSize(f.sizeBefore)} -> ${humanSize(f.sizeAfter)} (${signed(f.sizeAfter - f.sizeBefore)})`),
  ];
}

export function formatDiff(diff: BackupDiff): string {
  const { before, after, database: db } = diff;
  const lines = [`Comparing ${before.id} (${before.createdAt}) with ${after.id} (${after.createdAt}):`];
  for (const d of diff.components) {
    if (d.component !== "database" || !db) {
      lines.push(...componentLines(d, before.id, after.id));
      continue;
    }
    const sizes = db.sizeBefore !== null && db.sizeAfter !== null && db.changed ? ` (${humanSize(db.sizeBefore)} -> ${humanSize(db.sizeAfter)})` : "";
    const presence = d.before !== d.after ? ` (only in ${d.before === "included" ? before.id : after.id})` : "";
    lines.push(`database: ${db.changed ? "changed" : "unchanged"}${sizes}${presence}`);
    for (const t of db.tables) lines.push(`  table ${t.name}: ${t.before ?? "absent"} -> ${t.after ?? "absent"} rows`);
    if (db.changed && db.tables.length === 0 && db.before && db.after) lines.push("  every table has the same row count");
    if (db.before && db.after && db.before.pageCount !== db.after.pageCount) lines.push(`  pages: ${db.before.pageCount} -> ${db.after.pageCount} of ${db.after.pageSize} bytes`);
    if (db.note) lines.push(`  note: ${db.note}`);
  }
  const t = diff.totals;
  lines.push(`${t.added} added, ${t.removed} removed, ${t.changed} changed, ${t.unchanged} unchanged files`);
  return lines.join("\n");
}

export const diff: Command<{ a: string; b: string }> = {
  options: {},
  parse(input) {
    const [a, b, ...extra] = input.positionals;
    if (!a || !b) throw new ValidationError("diff needs two backup ids (or 'latest'), the older first; run `colab-backup list` to see them");
    if (extra.length) throw new ValidationError(`diff compares two backups; got also ${extra.join(" ")}`);
    return { a: idOrLatest(a), b: idOrLatest(b) };
  },
  async run(ctx, { a, b }) {
    const storage = ctx.runtime.engine.storage;
    const result = diffBackups(await manifestFor(storage, a), await manifestFor(storage, b));
    return { json: { ok: true, ...result }, text: formatDiff(result) };
  },
};
