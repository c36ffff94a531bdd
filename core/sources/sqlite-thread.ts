// One better-sqlite3 job on a thread of its own: start the eval'd source, take its one answer, end the thread.
import { createRequire } from "node:module";
import { startThread } from "../heap-tuning.ts";

/**
 * The page cache (KiB) integrity_check runs with. Besides reading every page once, it looks each row up in each of its
 * table's indexes, in rowid order, so index pages are revisited at random: with SQLite's 2 MB default they fall out of
 * the cache and each visit is a pread again. Measured on the bench's 104 MB database (its largest table's indexes are
 * 4.5 MB), 4 runs each, loaded machine: 2 MB 283 ms CPU (143 ms of it sys), 4 MB 263, 8 MB 215 (61 sys), for +6 MB RSS
 * on the thread. Larger databases gain less per MB, so the cache stays fixed rather than growing with the file.
 */
export const CHECK_CACHE_KIB = 8000;

/**
 * better-sqlite3 calls are synchronous, so long ones (a page copy, integrity_check) run here to keep the main thread
 * free. An eval'd worker resolves bare names from the working folder, not from this file, so the module's resolved path
 * is passed in `workerData.sqlitePath`. Resolves with the worker's answer, its first message without a `note` field;
 * messages with one (a step reached before the answer) go to `onNote`. `failed` names a thread that died or stopped
 * before it answered.
 */
export function runSqliteThread<M>(
  source: string, workerData: Record<string, unknown>, failed: (why: string, cause?: Error) => Error, onNote?: (note: string) => void,
): Promise<M> {
  return new Promise<M>((resolve, reject) => {
    const worker = startThread(source, { eval: true, workerData: { ...workerData, sqlitePath: sqliteModulePath() } });
    let answered = false;
    const onMessage = (m: M & { note?: unknown }) => {
      if (typeof m?.note === "string") {
        onNote?.(m.note);
        return;
      }
      worker.off("message", onMessage);
      answered = true;
      resolve(m);
      void worker.terminate();
    };
    worker.on("message", onMessage);
    worker.once("error", (err) => {
      if (!answered) reject(failed(`the thread failed (${err.message})`, err));
      answered = true;
    });
    worker.once("exit", (code) => {
      if (!answered) reject(failed(`the thread stopped (exit code ${code}) before it answered`));
      answered = true;
    });
  });
}

/** better-sqlite3's resolved entry; throws when it is not installed where this file can see it. */
export function sqliteModulePath(): string {
  return createRequire(import.meta.url).resolve("better-sqlite3");
}
