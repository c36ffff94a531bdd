// The local work folder (snapshots, gzipped logs, staging, fs store temp files): clearing what dead runs left there.
import { lstat, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { OWNER_TAG, ownerGone, parseOwnerTag } from "./owner.ts";

/** For entries named before owner tags existed: a day, far longer than any run, so nothing in use is touched. */
export const UNTAGGED_STALE_MS = 24 * 3600 * 1000;

/** A work entry's name: `<kind>-<owner tag>-<rest>`, so the next run can tell when its owner is gone. */
export function workName(kind: string, rest: string): string {
  return `${kind}-${OWNER_TAG}-${rest}`;
}

/**
 * Removes the entries of `dir` whose owner process is gone (tagged names), or, for untagged names, that were last
 * modified more than a day ago; returns their names. A missing dir is empty. Safe while other runs work: a live
 * owner's entries are never touched.
 */
export async function removeAbandonedEntries(dir: string, now = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names.sort()) {
    const full = path.join(dir, name);
    try {
      const owner = parseOwnerTag(name);
      if (owner ? !ownerGone(owner) : (await lstat(full)).mtimeMs >= now - UNTAGGED_STALE_MS) continue;
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
