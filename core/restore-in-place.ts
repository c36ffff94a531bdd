// Restoring a component file by file in place: only files that differ are swapped, live files the backup lacks are moved aside.
import { opendir, rmdir } from "node:fs/promises";
import path from "node:path";
import type { ComponentName } from "./manifest.ts";
import type { PathStep } from "./restore-journal.ts";
import { planPathStep } from "./restore-swap.ts";
import { syncDir } from "./storage/fs-storage.ts";

/**
 * The steps that make `liveRoot` hold exactly the backup's files (`wanted`: path under the root -> staged path, or null
 * for a file kept in place because it already is the backup's). First every live entry the backup does not hold is
 * moved aside (a removal step: undone by renaming it back, so the inode comes back too), then each staged file is
 * renamed in. Files kept in place are never touched: a restore onto nearly equal data costs what differs, and a
 * rollback leaves their inode and ctime as they were. A live folder where the backup has a file is replaced whole by
 * that file's own step; a live file where the backup needs a folder is moved aside first.
 */
export async function planInPlace(component: ComponentName, liveRoot: string, wanted: Map<string, string | null>, journalId: string): Promise<PathStep[]> {
  const folders = new Set<string>();
  for (const rel of wanted.keys()) for (let d = path.dirname(rel); d !== "."; d = path.dirname(d)) folders.add(d);
  const removals: PathStep[] = [];
  const visit = async (rel: string): Promise<void> => {
    let dir;
    try {
      dir = await opendir(path.join(liveRoot, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const entries: { name: string; isDir: boolean }[] = [];
    for await (const d of dir) entries.push({ name: d.name, isDir: d.isDirectory() });
    for (const { name, isDir } of entries) {
      const r = rel ? `${rel}/${name}` : name;
      if (wanted.has(r)) continue; // the backup's own file (or a folder its step replaces)
      if (isDir && folders.has(r)) await visit(r);
      else removals.push({ ...(await planPathStep(component, "", path.join(liveRoot, r), journalId)), remove: true });
    }
  };
  await visit("");
  const places: PathStep[] = [];
  for (const [rel, staged] of wanted) if (staged) places.push(await planPathStep(component, staged, path.join(liveRoot, rel), journalId));
  return [...removals, ...places];
}

/** Makes the renames of path steps durable: an fsync of each folder that gained or lost a name. */
export async function syncStepFolders(steps: readonly PathStep[]): Promise<void> {
  const dirs = new Set(steps.flatMap((s) => [path.dirname(s.target)]));
  for (const d of dirs) await syncDir(d).catch(() => undefined);
}

/**
 * After the commit: folders under `liveRoot` left empty by removals, and holding none of the backup's files, go too,
 * as a swap of the whole folder would have dropped them. Best effort: a folder that is not empty stays.
 */
export async function pruneEmptyFolders(liveRoot: string, steps: readonly PathStep[]): Promise<void> {
  const root = path.resolve(liveRoot);
  for (const s of steps) {
    if (!s.remove) continue;
    for (let d = path.dirname(path.resolve(s.target)); d.startsWith(root + path.sep); d = path.dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        break; // not empty (or gone): neither it nor its parents are empty
      }
    }
  }
}
