// Restoring a component file by file in place: only files that differ are swapped, live files the backup lacks are moved aside.
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { ComponentName } from "./manifest.ts";
import type { PathStep } from "./restore-journal.ts";
import { planPathStep } from "./restore-swap.ts";
import { syncDir } from "./storage/fs-storage.ts";
import { mapInOrder } from "./v2/bounded.ts";

/**
 * The steps that make `liveRoot` hold exactly the backup's files (`wanted`: path under the root -> staged path, or null
 * for a file kept in place because it already is the backup's). First every live entry the backup does not hold is
 * moved aside (a removal step: undone by renaming it back, so the inode comes back too), then each staged file is
 * renamed in. Files kept in place are never touched: a restore onto nearly equal data costs what differs, and a
 * rollback leaves their inode and ctime as they were. A live folder where the backup has a file is replaced whole by
 * that file's own step; a live file where the backup needs a folder is moved aside first. `extras`: listLiveExtras's
 * answer for the same paths when the caller started it earlier (beside staging); else the tree is listed now.
 */
export async function planInPlace(component: ComponentName, liveRoot: string, wanted: Map<string, string | null>, journalId: string, extras?: Promise<string[]>): Promise<PathStep[]> {
  const removed = await (extras ?? listLiveExtras(liveRoot, wanted.keys()));
  const removals = await mapInOrder(removed, LIST_AT_ONCE, async (r) => ({ ...(await planPathStep(component, "", path.join(liveRoot, r), journalId)), remove: true }));
  const placed = [...wanted].filter((e): e is [string, string] => e[1] !== null);
  const places = await mapInOrder(placed, LIST_AT_ONCE, ([rel, staged]) => planPathStep(component, staged, path.join(liveRoot, rel), journalId));
  return [...removals, ...places];
}

/**
 * The live entries under `liveRoot` (paths under it, topmost only) that are not among the backup's `files` nor folders
 * above them: what planInPlace moves aside. It only reads the live tree, so a restore lists it while staging runs.
 */
export async function listLiveExtras(liveRoot: string, files: Iterable<string>): Promise<string[]> {
  const wanted = new Set(files);
  const folders = new Set<string>();
  for (const rel of wanted) for (let d = path.dirname(rel); d !== "."; d = path.dirname(d)) folders.add(d);
  const removed: string[] = [];
  // Folder by folder, many listed at once: an uploads tree is often a folder per file (the bench's: 4,068 for 3,914
  // files), and listed one after another each listing waited its turn on libuv's pool.
  let level = [""];
  while (level.length > 0) {
    const listed = await mapInOrder(level, LIST_AT_ONCE, (rel) => readdir(path.join(liveRoot, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    }));
    const next: string[] = [];
    level.forEach((rel, i) => {
      for (const d of listed[i]!) {
        const r = rel ? `${rel}/${d.name}` : d.name;
        if (wanted.has(r)) continue; // the backup's own file (or a folder its step replaces)
        if (d.isDirectory() && folders.has(r)) next.push(r);
        else removed.push(r);
      }
    });
    level = next;
  }
  return removed;
}

/** Folder listings (and stats) in flight at once: enough to keep libuv's four threads busy. */
const LIST_AT_ONCE = 16;

/** Makes the renames of path steps durable: an fsync of each folder that gained or lost a name. */
export async function syncStepFolders(steps: readonly PathStep[]): Promise<void> {
  const dirs = new Set(steps.flatMap((s) => [path.dirname(s.target)]));
  // Side by side: fsyncs in flight together share the filesystem journal's commits instead of each waiting for its own.
  await mapInOrder([...dirs], LIST_AT_ONCE, (d) => syncDir(d).catch(() => undefined));
}
