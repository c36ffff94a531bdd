// The steps of a restore's swap, each described in the journal: planned, applied, undone by looking at the disk, finished.
import { cp, lstat, mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { ComponentName } from "./manifest.ts";
import type { DatabaseStep, PathStep, SwapStep } from "./restore-journal.ts";
import { restoreDatabaseInto, snapshotDatabase } from "./sources/sqlite.ts";
import { syncDir, syncFileAndDir } from "./storage/fs-storage.ts";

export async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return false; // ENOTDIR: a file stands where a folder above would be
    throw err;
  }
}

/** A rename swap of `target` (a file or a whole folder); the names it uses are fixed now so recovery can find them. */
export async function planPathStep(component: ComponentName, staged: string, target: string, journalId: string): Promise<PathStep> {
  return {
    kind: "path", component, target, staged,
    aside: `${target}.colab-old-${journalId}`,
    near: `${target}.colab-new-${journalId}`,
    hadOriginal: await exists(target),
  };
}

/**
 * The database step; snapshots the live database first (durably) so the step can be undone after a crash.
 * `rollbackReady`: `rollback` already holds a durable copy of the live database as it is now (restore-rollback-copy.ts).
 */
export async function planDatabaseStep(staged: string, live: string, rollback: string, busyTimeoutMs: number, rollbackReady = false): Promise<DatabaseStep> {
  const hadLive = await exists(live);
  if (hadLive && !rollbackReady) {
    await snapshotDatabase(live, rollback, { busyTimeoutMs });
    await syncFileAndDir(rollback);
  }
  return { kind: "database", component: "database", live, staged, rollback: hadLive ? rollback : null };
}

/**
 * Applies a step and returns; when it throws, `changed` tells whether live data was touched before it failed (a
 * database copy that could not start, e.g. busy, changed nothing). `pause` (tests only) runs between moving the
 * live copy aside and moving the restored one in.
 */
export async function applyStep(step: SwapStep, busyTimeoutMs: number, pause?: () => Promise<void>, changed = { value: false }): Promise<void> {
  if (step.kind === "database") {
    // Restore checked the staged snapshot (integrity_check) before planning; it sits in the private staging folder since.
    await restoreDatabaseInto(step.staged, step.live, { busyTimeoutMs, onCopied: () => (changed.value = true), snapshotChecked: true });
    return;
  }
  changed.value = true;
  await mkdir(path.dirname(step.target), { recursive: true });
  if (step.hadOriginal) await rename(step.target, step.aside);
  if (step.remove) return;
  await pause?.();
  try {
    await rename(step.staged, step.target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    // Across filesystems: copy next to the target first, so that the step that makes it live is still one rename.
    await cp(step.staged, step.near, { recursive: true, preserveTimestamps: true, errorOnExist: true, force: false });
    await rename(step.near, step.target);
    await rm(step.staged, { recursive: true, force: true });
  }
}

/**
 * Puts the state before the step back, judging from the disk how far the step got, so it is safe to run after a
 * crash at any instant and to run twice.
 */
export async function undoStep(step: SwapStep, busyTimeoutMs: number): Promise<void> {
  if (step.kind === "database") {
    if (step.rollback) await restoreDatabaseInto(step.rollback, step.live, { busyTimeoutMs });
    else for (const p of [step.live, `${step.live}-wal`, `${step.live}-shm`, `${step.live}-journal`]) await rm(p, { force: true });
    return;
  }
  await rm(step.near, { recursive: true, force: true });
  if (step.hadOriginal) {
    // The aside copy exists exactly when the original was moved away and not yet put back.
    if (await exists(step.aside)) {
      await rm(step.target, { recursive: true, force: true });
      await rename(step.aside, step.target);
    }
  } else {
    // Nothing was here before; whatever is here now came from this restore.
    await rm(step.target, { recursive: true, force: true });
  }
  await syncDir(path.dirname(step.target));
}

/** Drops what undo would have needed (and the staged database, copied in by then); idempotent. */
export async function finishStep(step: SwapStep): Promise<void> {
  if (step.kind === "database") {
    // The staged copy too (it sits in the staging folder, removed whole afterwards): two database-sized unlinks side by
    // side, beside the other steps' (rollForward runs them at once), instead of the staged one alone after them.
    await Promise.all([step.rollback && rm(step.rollback, { force: true }), rm(step.staged, { force: true })]);
    return;
  }
  await rm(step.aside, { recursive: true, force: true });
  await rm(step.near, { recursive: true, force: true });
}


