// A backup's files as `ls` shows them, and choosing files or folders by those paths for `restore --include`.
// Reads only the manifest (v1 and v2 list their files the same way), so browsing costs one small read.
import { ValidationError } from "./errors.ts";
import { COMPONENTS, type ComponentName, type StoredManifest } from "./manifest.ts";
import { didYouMean } from "./suggest.ts";

export interface BrowsedFile {
  component: ComponentName;
  /** The entry name in the backup, e.g. "uploads/a/b.png", "config/package.json", "logs/app.log.gz", "database/dev.db". */
  path: string;
  size: number;
  sha256: string;
  mode: number;
  mtime?: string;
  /** Logs are stored gzipped: the size of the .log a restore writes. */
  originalSize?: number;
}

export interface Listing {
  id: string;
  format: 1 | 2;
  createdAt: string;
  /** The PATH asked for, normalised; undefined for the whole backup. */
  under?: string;
  files: BrowsedFile[];
  totalSize: number;
  /** Components the backup does not hold, with the reason recorded at backup time. */
  missing: { component: ComponentName; note?: string }[];
}

/** Every file of every included component, in component order then path order. */
export function backupFiles(manifest: Pick<StoredManifest, "components">, components: readonly ComponentName[] = COMPONENTS): BrowsedFile[] {
  const out: BrowsedFile[] = [];
  for (const component of components) {
    const rec = manifest.components[component];
    if (!rec || rec.status !== "included") continue;
    const files = [...rec.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const f of files) {
      out.push({ component, path: f.path, size: f.size, sha256: f.sha256, mode: f.mode, ...(f.mtime ? { mtime: f.mtime } : {}), ...(f.originalSize !== undefined ? { originalSize: f.originalSize } : {}) });
    }
  }
  return out;
}

/** "./uploads/x/" and "uploads/x" are one path; a name with ".." or an absolute one can match nothing, so it is refused. */
export function normalisePath(raw: string, verb: string): string {
  const p = raw.trim().replace(/^\.\/+/, "").replace(/\/+$/, "");
  if (p === "" || p === ".") throw new ValidationError(`${verb}: the path is empty; give one as \`colab-backup ls <id>\` prints it, e.g. uploads/ or config/package.json`);
  if (p.startsWith("/") || p.split("/").includes("..")) {
    throw new ValidationError(`${verb}: "${raw}" is not a path inside a backup; give one as \`colab-backup ls <id>\` prints it, e.g. uploads/photos`);
  }
  return p.replace(/\/{2,}/g, "/");
}

/** A file matches its own path or any folder above it; "logs/x.log" also names the stored "logs/x.log.gz". */
export function pathMatches(filePath: string, p: string): boolean {
  return filePath === p || filePath.startsWith(`${p}/`) || (p.startsWith("logs/") && p.endsWith(".log") && filePath === `${p}.gz`);
}

/** The folders and files a user could have meant, for "did you mean". */
function candidates(files: readonly BrowsedFile[]): Set<string> {
  const out = new Set<string>();
  for (const f of files) {
    out.add(f.path);
    const parts = f.path.split("/");
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join("/"));
  }
  return out;
}

function nothingMatches(manifest: Pick<StoredManifest, "id">, raw: string, p: string, files: readonly BrowsedFile[], verb: string, within: string): ValidationError {
  return new ValidationError(
    `${verb}: backup ${manifest.id} holds no file or folder "${raw}"${within}${didYouMean(p, candidates(files), (s) => `"${s}"`)}; run \`colab-backup ls ${manifest.id}\` to see its paths`,
  );
}

/** `ls`: the backup's files, or those under one path; a path that matches nothing is an error, not an empty list. */
export function listBackupFiles(manifest: StoredManifest, under?: string): Listing {
  const all = backupFiles(manifest);
  const p = under === undefined ? undefined : normalisePath(under, "list files");
  const files = p === undefined ? all : all.filter((f) => pathMatches(f.path, p));
  if (p !== undefined && files.length === 0) throw nothingMatches(manifest, under!, p, all, "list files", "");
  const missing = COMPONENTS.filter((c) => manifest.components[c] && manifest.components[c]!.status !== "included").map((c) => ({ component: c, ...(manifest.components[c]!.note ? { note: manifest.components[c]!.note } : {}) }));
  return { id: manifest.id, format: manifest.formatVersion, createdAt: manifest.createdAt, ...(p !== undefined ? { under: p } : {}), files, totalSize: files.reduce((n, f) => n + f.size, 0), missing };
}

/**
 * `restore --include`: the manifest cut down to the chosen files, and the components they belong to. Every path must
 * match something among `components` (a typo is refused before anything is touched). The database is one file, so
 * choosing it restores the whole database. The result keeps the manifest's id and other fields: staging, the space
 * check and the swap read only `components[c].files`, so they handle just the chosen files.
 */
export function chooseFiles<M extends StoredManifest>(manifest: M, components: readonly ComponentName[], paths: readonly string[], verb = "choose files"): { manifest: M; components: ComponentName[]; paths: string[] } {
  if (paths.length === 0) throw new ValidationError(`${verb}: --include needs at least one path`);
  const pool = backupFiles(manifest, components);
  const chosen = new Set<string>();
  const normalised: string[] = [];
  for (const raw of paths) {
    const p = normalisePath(raw, verb);
    const hits = pool.filter((f) => pathMatches(f.path, p));
    if (hits.length === 0) {
      const elsewhere = backupFiles(manifest).some((f) => pathMatches(f.path, p));
      // Found outside the asked components: say so, rather than suggest the very path that was given.
      throw nothingMatches(manifest, raw, p, elsewhere ? [] : pool, verb, elsewhere ? ` among the components asked for (${components.join(", ")}); add its component to --components` : "");
    }
    for (const f of hits) chosen.add(f.path);
    normalised.push(p);
  }
  const narrowed = structuredClone(manifest);
  const picked: ComponentName[] = [];
  for (const c of COMPONENTS) {
    const rec = narrowed.components[c];
    if (!rec) continue;
    const files = (rec.files as { path: string; size: number }[]).filter((f) => components.includes(c) && chosen.has(f.path));
    (rec as { files: unknown[] }).files = files;
    rec.fileCount = files.length;
    rec.totalSize = files.reduce((n, f) => n + f.size, 0);
    if (files.length) picked.push(c);
  }
  return { manifest: narrowed, components: picked, paths: normalised };
}

/** The extractor's `select` for a cut-down manifest: exactly the chosen files' entries. */
export function includedEntries(manifest: Pick<StoredManifest, "components">, components: readonly ComponentName[]): (entry: string) => boolean {
  const wanted = new Set(components.flatMap((c) => manifest.components[c]?.files.map((f) => f.path) ?? []));
  return (entry) => wanted.has(entry);
}
