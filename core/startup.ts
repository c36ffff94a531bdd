// What every entry point does first: clear work that dead runs left behind, and end an interrupted restore's journal.
import type { Engine } from "./engine.ts";
import { errorMessage } from "./errors.ts";
import { recoverInterruptedRestore, type Recovery } from "./restore-recovery.ts";
import { removeAbandonedEntries } from "./work-dir.ts";

/** Removes work folders and store temp files whose owner process is gone; never touches a live run's. */
export async function sweepAbandonedWork(engine: Engine): Promise<string[]> {
  const removed = [...(await removeAbandonedEntries(engine.workRoot)), ...((await engine.storage.cleanTempDir?.()) ?? [])];
  if (removed.length) engine.log.warn("removed work files that dead runs left behind", { removed });
  return removed;
}

/**
 * Run by the CLI before every command, by `serve` at start and by the worker on each invocation. A failure to sweep
 * is logged, not fatal; a restore journal that cannot be ended is fatal, because going on could mix two states.
 */
export async function startupRecovery(engine: Engine): Promise<Recovery | null> {
  await sweepAbandonedWork(engine).catch((err) => engine.log.warn("could not clear old work files", { error: errorMessage(err) }));
  return recoverInterruptedRestore(engine);
}
