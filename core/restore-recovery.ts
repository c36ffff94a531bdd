// Ending a restore journal: roll back the begun swaps, or finish a committed one; after a crash, at every entry point.
import { lstat, readdir, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { appendAudit } from "./catalog.ts";
import type { Engine } from "./engine.ts";
import { ConflictError, RestoreError, errorMessage } from "./errors.ts";
import { LOCK_KEY } from "./ids.ts";
import { readJob, saveJob } from "./jobs/records.ts";
import { RESTORE_LEASE, acquireLock, isStale, readLock } from "./lock.ts";
import { journalPath, readJournal, removeJournal, type Journal } from "./restore-journal.ts";
import { finishStep, undoStep } from "./restore-swap.ts";
import { syncDir } from "./storage/fs-storage.ts";
import { mapInOrder } from "./v2/bounded.ts";

/** Undoes every begun component's steps, newest first; the journal stays until all of it worked. */
export async function rollBack(engine: Engine, journal: Journal): Promise<void> {
  const errors: string[] = [];
  const begun = new Set(journal.begun);
  for (const step of [...journal.steps].reverse()) {
    if (!begun.has(step.component)) continue;
    await undoStep(step, engine.config.dbBusyTimeoutMs).catch((err) => errors.push(`${step.component}: ${errorMessage(err)}`));
  }
  // Then the folders it created for restored files, now empty again: the tree is as before, folders too.
  for (const d of [...(journal.madeFolders ?? [])].reverse()) await removeEmptyFolders(d).catch((err) => errors.push(`folder ${d}: ${errorMessage(err)}`));
  if (errors.length) {
    throw new RestoreError(
      `roll back restore of ${journal.backupId}: ${errors.join("; ")}. The journal ${journalPath(engine.config)} is kept, ` +
        `so the next colab-backup command tries again; the data replaced is also in backup ${journal.preRestoreBackupId ?? "(none made)"}`,
      false,
    );
  }
  await endJournal(engine, journal);
}

/** Removes `dir` and the folders under it, deepest first, as long as they hold no file; never removes a file. */
async function removeEmptyFolders(dir: string): Promise<void> {
  let entries;
  try {
    if (!(await lstat(dir)).isDirectory()) return;
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return; // gone, or a file stands where a folder above it was
    throw err;
  }
  for (const e of entries) if (e.isDirectory()) await removeEmptyFolders(path.join(dir, e.name));
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST" && err.code !== "ENOENT" && err.code !== "ENOTDIR") throw err;
  });
  await syncDir(path.dirname(dir)).catch(() => undefined);
}

/** Every swap is done: drop the copies kept for undo and the staging folder, then the journal. */
export async function rollForward(engine: Engine, journal: Journal): Promise<void> {
  // Side by side: each step's leftovers are its own names, and the journal stays until every one is gone.
  await mapInOrder(journal.steps, 16, finishStep);
  await endJournal(engine, journal);
}

async function endJournal(engine: Engine, journal: Journal): Promise<void> {
  await rm(journal.staging, { recursive: true, force: true });
  await removeJournal(journalPath(engine.config));
}

export interface Recovery {
  backupId: string;
  components: string[];
  outcome: "rolled-back" | "completed" | "cleaned-up";
  preRestoreBackupId?: string;
  message: string;
}

/**
 * Ends a journal left by a restore that died. The caller holds the store lock, so its owner cannot be running.
 * Returns what was done (null if there was nothing), after writing an audit record and failing the restore's job.
 */
export async function recoverUnderLock(engine: Engine): Promise<Recovery | null> {
  const journal = await readJournal(journalPath(engine.config));
  if (!journal) return null;
  const { backupId, components, preRestoreBackupId } = journal;
  let outcome: Recovery["outcome"];
  if (journal.phase === "committing") {
    await rollForward(engine, journal);
    outcome = "completed";
  } else {
    await rollBack(engine, journal);
    outcome = journal.phase === "swapping" && journal.begun.length > 0 ? "rolled-back" : "cleaned-up";
  }
  const what = {
    completed: `finished the interrupted restore of ${components.join(", ")} from ${backupId}: every component had been swapped in`,
    "rolled-back": `rolled back the interrupted restore of ${components.join(", ")} from ${backupId}: the data is as it was before it started`,
    "cleaned-up": `cleaned up the interrupted restore of ${components.join(", ")} from ${backupId}: it had changed nothing yet`,
  }[outcome];
  const message = `${what}${preRestoreBackupId ? ` (pre-restore backup ${preRestoreBackupId})` : ""}`;
  const result = outcome === "completed" ? "succeeded" : outcome === "rolled-back" ? "rolled-back" : "failed";
  await appendAudit(engine.storage, {
    actor: "recovery", action: "restore", backupId, components, result,
    ...(result === "succeeded" ? {} : { error: "the restore was interrupted (its process died)" }),
    detail: { interrupted: true, recovery: outcome, startedBy: journal.actor, startedAt: journal.startedAt, pid: journal.pid, host: journal.host, preRestoreBackupId },
  }, engine.now());
  if (journal.jobId) await endJob(engine, journal.jobId, outcome, message);
  engine.log.warn("recovered an interrupted restore", { backupId, outcome, preRestoreBackupId });
  return { backupId, components, outcome, preRestoreBackupId, message };
}

async function endJob(engine: Engine, jobId: string, outcome: Recovery["outcome"], message: string): Promise<void> {
  const job = await readJob(engine.storage, jobId).catch(() => null);
  // worker_lost is a reader's guess from a silent heartbeat (core/jobs/deadline.ts); the journal knows how it ended.
  if (!job || job.state === "succeeded" || (job.state === "failed" && job.error?.code !== "worker_lost")) return;
  delete job.error;
  const finishedAt = engine.now().toISOString();
  if (outcome === "completed") Object.assign(job, { state: "succeeded", finishedAt, result: { recovered: message } });
  else Object.assign(job, { state: "failed", finishedAt, error: { code: "restore_interrupted", message, rolledBack: true } });
  await saveJob(engine.storage, job);
}

/**
 * For entry points that do not take the lock themselves (every CLI command, `serve` at start, the worker): ends a
 * dead restore's journal. A journal whose restore still holds a live lock is left alone: that restore is running.
 */
export async function recoverInterruptedRestore(engine: Engine): Promise<Recovery | null> {
  if (!(await readJournal(journalPath(engine.config)))) return null;
  const lock = await readLock(engine.storage, LOCK_KEY).catch(() => null);
  if (lock && !isStale(lock, engine.now())) return null;
  let held;
  try {
    held = await acquireLock(engine.storage, LOCK_KEY, { id: "restore-recovery", operation: "restore recovery" }, { thread: { config: engine.config, ...RESTORE_LEASE } });
  } catch (err) {
    if (err instanceof ConflictError) return null; // someone took the lock first; they recover it under their lock
    throw err;
  }
  try {
    return await recoverUnderLock(engine);
  } finally {
    await held.release();
  }
}
