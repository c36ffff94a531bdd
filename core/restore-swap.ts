// Swapping restored components into place, each undoable: file trees and files by rename, the database through SQLite.
import { cp, lstat, mkdir, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { restoreDatabaseInto, snapshotDatabase } from "./sources/sqlite.ts";

/** One applied change: `undo` puts the previous state back, `commit` drops what undo would need. */
export interface Swap {
  undo(): Promise<void>;
  commit(): Promise<void>;
}

const suffix = () => randomBytes(4).toString("hex");

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Renames `from` to `to`; across filesystems, copies next to `to` first so the final step is still one rename. */
async function moveInto(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    const near = `${to}.colab-new-${suffix()}`;
    await cp(from, near, { recursive: true, preserveTimestamps: true, errorOnExist: true, force: false });
    await rename(near, to);
    await rm(from, { recursive: true, force: true });
  }
}

/** Replaces the file or folder at `target` with `staged`; the old one waits beside it until commit. */
export async function swapPath(staged: string, target: string): Promise<Swap> {
  await mkdir(path.dirname(target), { recursive: true });
  const old = (await exists(target)) ? `${target}.colab-old-${suffix()}` : null;
  if (old) await rename(target, old);
  try {
    await moveInto(staged, target);
  } catch (err) {
    if (old) await rename(old, target);
    throw err;
  }
  return {
    async undo() {
      await rm(target, { recursive: true, force: true });
      if (old) await rename(old, target);
    },
    async commit() {
      if (old) await rm(old, { recursive: true, force: true });
    },
  };
}

/** Copies the staged snapshot into the live database through SQLite, keeping a snapshot of the current one to undo. */
export async function swapDatabase(staged: string, live: string, rollbackDir: string, busyTimeoutMs: number): Promise<Swap> {
  const hadLive = await exists(live);
  const rollback = path.join(rollbackDir, `rollback-${suffix()}.db`);
  if (hadLive) await snapshotDatabase(live, rollback, { busyTimeoutMs });
  await restoreDatabaseInto(staged, live, { busyTimeoutMs });
  return {
    async undo() {
      if (hadLive) await restoreDatabaseInto(rollback, live, { busyTimeoutMs });
      else for (const p of [live, `${live}-wal`, `${live}-shm`, `${live}-journal`]) await rm(p, { force: true });
    },
    async commit() {
      await rm(rollback, { force: true });
    },
  };
}
