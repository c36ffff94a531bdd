// Reading one stored manifest for people: its facts without the file lists, and its files one filtered, sorted page at a time.
import type { StoredManifest } from "./manifest.ts";

export interface ComponentDetails {
  status: "included" | "missing";
  note?: string;
  fileCount: number;
  totalSize: number;
  /** v2: pieces the files are stored as; the same piece in two files counts twice. */
  blobCount?: number;
  database?: NonNullable<StoredManifest["components"][string]["database"]> & { snapshotSha256?: string; snapshotSize?: number };
}

/** A manifest's facts without its per-file lists, which can run to megabytes: what a details view shows at once. */
export type BackupDetails = Omit<StoredManifest, "components"> & { components: Record<string, ComponentDetails> };

export function backupDetails(m: StoredManifest): BackupDetails {
  const components = Object.fromEntries(
    Object.entries(m.components).map(([name, c]) => {
      const { files, database, ...rest } = c;
      const out: ComponentDetails = { ...rest };
      if (m.formatVersion === 2) out.blobCount = (files as unknown as { blobs: unknown[] }[]).reduce((n, f) => n + f.blobs.length, 0);
      // The database component holds one file, the snapshot: its hash is what a hand restore checks first.
      if (database) out.database = { ...database, ...(files[0] ? { snapshotSha256: files[0].sha256, snapshotSize: files[0].size } : {}) };
      return [name, out];
    }),
  );
  return { ...m, components } as BackupDetails;
}

export interface FileRow {
  path: string;
  component: string;
  size: number;
  sha256: string;
  mode: number;
  mtime?: string;
  originalSize?: number;
  /** v2 only: how many stored pieces the file is made of. */
  blobs?: number;
}

export interface FileQuery {
  /** Case-insensitive text the path must contain. */
  q?: string;
  /** Only files under this folder ("uploads/2026/"); a trailing slash is implied. */
  under?: string;
  component?: string;
  page: number;
  pageSize: number;
}

export interface FilePage {
  total: number;
  totalSize: number;
  page: number;
  pageSize: number;
  items: FileRow[];
}

/** One page of the backup's files matching the query, sorted by path, with the count and bytes of all that match. */
export function browseFiles(m: StoredManifest, query: FileQuery): FilePage {
  const q = query.q?.toLowerCase();
  const under = query.under ? query.under.replace(/\/*$/, "/") : undefined;
  const matched: FileRow[] = [];
  let totalSize = 0;
  for (const [component, c] of Object.entries(m.components)) {
    if (query.component && component !== query.component) continue;
    for (const f of c.files) {
      if (under && !f.path.startsWith(under)) continue;
      if (q && !f.path.toLowerCase().includes(q)) continue;
      totalSize += f.size;
      matched.push({
        path: f.path,
        component,
        size: f.size,
        sha256: f.sha256,
        mode: f.mode,
        ...(f.mtime ? { mtime: f.mtime } : {}),
        ...(f.originalSize !== undefined ? { originalSize: f.originalSize } : {}),
        ...("blobs" in f ? { blobs: (f.blobs as unknown[]).length } : {}),
      });
    }
  }
  matched.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const start = (query.page - 1) * query.pageSize;
  return { total: matched.length, totalSize, page: query.page, pageSize: query.pageSize, items: matched.slice(start, start + query.pageSize) };
}
