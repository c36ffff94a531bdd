// The local work folder (snapshots, gzipped logs, staging, fs store temp files): clearing what crashed runs left there.
import { lstat, readdir, rm } from "node:fs/promises";
import path from "node:path";

/** A day: far longer than any run, so nothing still in use is touched. */
export const STALE_WORK_MS = 24 * 3600 * 1000;

/** Removes the entries of `dir` last modified before `olderThanMs` ago; returns their names. A missing dir is empty. */
export async function removeStaleEntries(dir: string, olderThanMs: number): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const cutoff = Date.now() - olderThanMs;
  const removed: string[] = [];
  for (const name of names.sort()) {
    const full = path.join(dir, name);
    try {
      if ((await lstat(full)).mtimeMs >= cutoff) continue;
      await rm(full, { recursive: true, force: true });
      removed.push(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return removed;
}

/** Bytes of the regular files under each folder (a folder inside another listed one is counted once); missing folders are 0. */
export async function workBytes(dirs: string[]): Promise<number> {
  const roots = [...new Set(dirs.map((d) => path.resolve(d)))];
  const distinct = roots.filter((d) => !roots.some((o) => o !== d && d.startsWith(o + path.sep)));
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      // Gone meanwhile (a run finished and removed its work folder) or never made: nothing to count.
      if (["ENOENT", "ENOTDIR"].includes((err as NodeJS.ErrnoException).code ?? "")) return;
      throw err;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) total += (await lstat(full).catch(() => null))?.size ?? 0;
    }
  };
  for (const d of distinct) await walk(d);
  return total;
}
