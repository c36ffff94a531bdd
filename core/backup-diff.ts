// What changed between two backups, per component, from their manifests alone: files added, removed and changed (by
// SHA-256), and whether the database changed, with its facts. Works across formats (v1 and v2 list files the same way).
import { COMPONENTS, type ComponentName, type DatabaseFacts, type StoredManifest } from "./manifest.ts";
import { backupFiles, type BrowsedFile } from "./browse.ts";

export interface FileChange {
  path: string;
  sizeBefore: number;
  sizeAfter: number;
  sha256Before: string;
  sha256After: string;
}

export interface ComponentDiff {
  component: ComponentName;
  /** "included" or "missing" in each backup ("missing" also when the backup does not mention the component). */
  before: "included" | "missing";
  after: "included" | "missing";
  added: Pick<BrowsedFile, "path" | "size" | "sha256">[];
  removed: Pick<BrowsedFile, "path" | "size" | "sha256">[];
  changed: FileChange[];
  unchanged: number;
}

export interface DatabaseDiff {
  changed: boolean;
  sizeBefore: number | null;
  sizeAfter: number | null;
  before: DatabaseFacts | null;
  after: DatabaseFacts | null;
  /** Tables whose row count differs (null where the table is absent). */
  tables: { name: string; before: number | null; after: number | null }[];
  /** Set when the two snapshots were made differently, so equal data can still differ in bytes. */
  note?: string;
}

export interface BackupDiff {
  before: { id: string; createdAt: string; format: 1 | 2 };
  after: { id: string; createdAt: string; format: 1 | 2 };
  components: ComponentDiff[];
  database: DatabaseDiff | null;
  totals: { added: number; removed: number; changed: number; unchanged: number };
}

const slim = (f: BrowsedFile) => ({ path: f.path, size: f.size, sha256: f.sha256 });
const status = (m: StoredManifest, c: ComponentName) => (m.components[c]?.status === "included" ? "included" : "missing");

export function diffBackups(a: StoredManifest, b: StoredManifest): BackupDiff {
  const components: ComponentDiff[] = [];
  for (const c of COMPONENTS) {
    const before = new Map(backupFiles(a, [c]).map((f) => [f.path, f]));
    const after = backupFiles(b, [c]);
    const d: ComponentDiff = { component: c, before: status(a, c), after: status(b, c), added: [], removed: [], changed: [], unchanged: 0 };
    for (const f of after) {
      const old = before.get(f.path);
      before.delete(f.path);
      if (!old) d.added.push(slim(f));
      else if (old.sha256 !== f.sha256) d.changed.push({ path: f.path, sizeBefore: old.size, sizeAfter: f.size, sha256Before: old.sha256, sha256After: f.sha256 });
      else d.unchanged++;
    }
    d.removed = [...before.values()].map(slim);
    components.push(d);
  }
  const totals = { added: 0, removed: 0, changed: 0, unchanged: 0 };
  for (const d of components) {
    totals.added += d.added.length;
    totals.removed += d.removed.length;
    totals.changed += d.changed.length;
    totals.unchanged += d.unchanged;
  }
  return {
    before: { id: a.id, createdAt: a.createdAt, format: a.formatVersion },
    after: { id: b.id, createdAt: b.createdAt, format: b.formatVersion },
    components,
    database: databaseDiff(a, b, components.find((d) => d.component === "database")!),
    totals,
  };
}

function databaseDiff(a: StoredManifest, b: StoredManifest, files: ComponentDiff): DatabaseDiff | null {
  const before = a.components.database?.status === "included" ? (a.components.database.database ?? null) : null;
  const after = b.components.database?.status === "included" ? (b.components.database.database ?? null) : null;
  const size = (m: StoredManifest) => (m.components.database?.status === "included" ? (m.components.database.files[0]?.size ?? null) : null);
  if (files.before === "missing" && files.after === "missing") return null;
  const names = new Set([...Object.keys(before?.tables ?? {}), ...Object.keys(after?.tables ?? {})]);
  const tables = [...names].sort().map((name) => ({ name, before: before?.tables[name] ?? null, after: after?.tables[name] ?? null })).filter((t) => t.before !== t.after);
  const changed = files.added.length + files.removed.length + files.changed.length > 0;
  // VACUUM INTO (v1) rebuilds the file, the backup API (v2) keeps page positions: the same data gives different bytes.
  const note = before && after && before.method !== after.method && changed
    ? `the snapshots were made differently (${before.method} and ${after.method}), so their bytes differ even for the same data; compare the table row counts`
    : undefined;
  return { changed, sizeBefore: size(a), sizeAfter: size(b), before, after, tables, ...(note ? { note } : {}) };
}
