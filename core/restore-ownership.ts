// Owners and folder modes for restored files, set in staging before the swap so that the swap itself stays renames.
import type { Stats } from "node:fs";
import { chmod, lchown, lstat, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "./errors.ts";
import type { ComponentName } from "./manifest.ts";
import { mapInOrder } from "./v2/bounded.ts";

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null; // ENOTDIR: a live file stands where a folder above would be
    throw err;
  }
}

/** The live component root, or when it does not exist yet the folder it will be created in. */
async function componentRoot(liveDir: string): Promise<Stats> {
  for (let dir = liveDir; ; dir = path.dirname(dir)) {
    const st = await lstatOrNull(dir);
    if (st?.isDirectory()) return st;
    if (path.dirname(dir) === dir) throw new ConfigError(`restore: no folder exists above ${liveDir}`);
  }
}

async function setOwner(target: string, uid: number, gid: number, current: Stats, liveDir: string): Promise<void> {
  if (current.uid === uid && current.gid === gid) return;
  try {
    await lchown(target, uid, gid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EPERM") throw err;
    throw new ConfigError(
      `restore: cannot give restored files the owner ${uid}:${gid} of what they replace in ${liveDir} (${code}); run the restore as root or as the user that owns ${liveDir}`,
    );
  }
}

export interface OwnershipOptions {
  /**
   * Create live folders the staged tree has and the live tree lacks, with the owner and mode they will get. For
   * components swapped file by file (config, logs), the swap would otherwise create them as whoever runs the restore.
   */
  createMissingFolders?: boolean;
  /**
   * Told the topmost live folders about to be created (each holds the others), before any is: a restore journals them,
   * so that undoing it, even after a kill, removes them again while they are empty.
   */
  beforeCreating?: (folders: string[]) => Promise<void>;
}

/**
 * Gives every file and folder under `stagedDir` the owner and group of its counterpart under `liveDir`, or of the
 * component root when it is new; folders also get the counterpart's mode (or the root's): the extractor makes every
 * staged folder 0700. Files keep the mode recorded in the backup, which is the state being restored.
 */
export async function matchOwnership(stagedDir: string, liveDir: string, options: OwnershipOptions = {}): Promise<void> {
  // A component with no files (an empty uploads folder) stages nothing.
  if (!(await lstatOrNull(stagedDir))) return;
  const root = await componentRoot(liveDir);
  // Folders to create, parents before children, and which of them are topmost (their parent exists).
  const missing: { live: string; mode: number; top: boolean }[] = [];
  const visit = async (rel: string, underMissing = false): Promise<void> => {
    const staged = path.join(stagedDir, rel);
    const live = path.join(liveDir, rel);
    const st = await lstat(staged);
    const liveSt = await lstatOrNull(live);
    const owner = liveSt ?? root;
    await setOwner(staged, owner.uid, owner.gid, st, liveDir);
    if (!st.isDirectory()) return;
    const mode = (liveSt?.isDirectory() ? liveSt : root).mode & 0o7777;
    await chmod(staged, mode); // after chown: chown may clear setgid
    const missingHere = !liveSt && !!options.createMissingFolders;
    if (missingHere) missing.push({ live, mode, top: !underMissing });
    // Children side by side: a staged uploads tree is mostly a folder per file, each a few trips to libuv's pool.
    await mapInOrder(await readdir(staged), 8, (name) => visit(rel ? path.join(rel, name) : name, underMissing || missingHere));
  };
  await visit("");
  if (missing.length === 0) return;
  await options.beforeCreating?.(missing.filter((m) => m.top).map((m) => m.live));
  for (const { live, mode } of missing) {
    // A live file in the way is moved aside by the swap, which then makes the folder; nothing to prepare here.
    const made = await mkdir(live, { recursive: true }).then(() => true, (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOTDIR" || err.code === "EEXIST") return false;
      throw err;
    });
    if (made) {
      await lchown(live, root.uid, root.gid);
      await chmod(live, mode);
    }
  }
}

export interface RestorePaths {
  root: string;
  database: string;
  uploads: string;
  logs: string;
}

/**
 * Matches ownership for every chosen component staged under `stagedFiles` (the archive layout, logs already
 * gunzipped). The database is copied into the live file through SQLite, which keeps that file's owner; only a
 * database that did not exist is new, made by the swap, and `afterSwap` gives it its folder's owner.
 */
export async function matchRestoredOwnership(stagedFiles: string, components: readonly ComponentName[], paths: RestorePaths, uploadsFileByFile = false, beforeCreating?: OwnershipOptions["beforeCreating"]): Promise<{ afterSwap(): Promise<void> }> {
  // Under --include, uploads are swapped file by file like config and logs, so their new folders are made here too.
  if (components.includes("uploads")) await matchOwnership(path.join(stagedFiles, "uploads"), paths.uploads, { createMissingFolders: uploadsFileByFile, beforeCreating });
  if (components.includes("config")) await matchOwnership(path.join(stagedFiles, "config"), paths.root, { createMissingFolders: true, beforeCreating });
  if (components.includes("logs")) await matchOwnership(path.join(stagedFiles, "logs"), paths.logs, { createMissingFolders: true, beforeCreating });
  const newDatabase = components.includes("database") && !(await lstatOrNull(paths.database));
  return {
    async afterSwap() {
      if (!newDatabase) return;
      const folder = await componentRoot(path.dirname(paths.database));
      for (const f of [paths.database, `${paths.database}-wal`, `${paths.database}-shm`]) {
        const st = await lstatOrNull(f);
        if (st?.isFile()) await setOwner(f, folder.uid, folder.gid, st, path.dirname(paths.database));
      }
    },
  };
}
