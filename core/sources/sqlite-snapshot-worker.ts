// The online-backup snapshot's SQLite work (page copy, WAL flag reset, integrity_check, row counts) on a worker thread.
import { CHECK_CACHE_KIB, runSqliteThread } from "./sqlite-thread.ts";

/**
 * better-sqlite3 is synchronous: on the main thread the copy of a 100 MB database and its integrity_check block the event
 * loop for seconds, so nothing else of the backup (reading uploads, feeding the compression threads) can run meanwhile.
 * In a worker they overlap with the rest. The worker is plain JavaScript from this string (see compress-pool.ts for why);
 * its queries are inspectSnapshot's and backupApiSnapshot's in sqlite.ts, which the same tests cover.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { openSync, readSync, closeSync } = require("node:fs");
const Database = require(workerData.sqlitePath);
const { livePath, destPath, busyMs } = workerData;
const isBusy = (e) => typeof (e && e.code) === "string" && (e.code.startsWith("SQLITE_BUSY") || e.code.startsWith("SQLITE_LOCKED"));
// Only the header's two version bytes: reading the whole file for them held a copy of the database (100 MB) in memory.
const walFlag = (file) => {
  const h = Buffer.alloc(2);
  const fd = openSync(file, "r");
  try { readSync(fd, h, 0, 2, 18); } finally { closeSync(fd); }
  return h[0] === 2 || h[1] === 2;
};
let step = "snapshot database", file = livePath;
(async () => {
  const deadline = Date.now() + busyMs;
  const source = new Database(livePath, { readonly: true, fileMustExist: true, timeout: busyMs });
  // A small page cache (2 MB, SQLite's own default): the copy reads every page once, so a big cache only grows this
  // thread's memory; the OS caches the file anyway (see integrity-thread.ts for the measurement).
  source.pragma("cache_size = -2000");
  let journalMode;
  // All pages in one step (better-sqlite3 clamps the step to 2^31-1 pages): one read transaction, so the copy is a single
  // point in time (a step that saw a concurrent write would otherwise restart the copy). Busy is retried until the deadline.
  try {
    for (;;) {
      try {
        await source.backup(destPath, { progress: () => 0x7fffffff });
        journalMode = String(source.pragma("journal_mode", { simple: true }));
        break;
      } catch (err) {
        if (!isBusy(err) || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  } finally {
    source.close();
  }
  file = destPath;
  // The copy keeps page 1's WAL flags: switched to a rollback journal so the snapshot is one self-contained file.
  if (walFlag(destPath)) {
    const db = new Database(destPath, { fileMustExist: true, timeout: busyMs });
    try { db.pragma("journal_mode = DELETE"); } finally { db.close(); }
    if (walFlag(destPath)) throw Object.assign(new Error("could not switch " + destPath + " out of WAL mode"), { code: "WAL_STAYED" });
  }
  // The file is final from here (the inspection only reads it): the caller may start reading it beside integrity_check.
  parentPort.postMessage({ note: "copied" });
  step = "inspect snapshot";
  const db = new Database(destPath, { readonly: true, fileMustExist: true, timeout: busyMs });
  try {
    // Room for the index pages integrity_check revisits (CHECK_CACHE_KIB in sqlite-thread.ts).
    db.pragma("cache_size = -${CHECK_CACHE_KIB}");
    const tables = {};
    const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\\\_%' ESCAPE '\\\\' ORDER BY name").pluck().all();
    for (const name of names) tables[name] = db.prepare('SELECT count(*) FROM "' + name.replaceAll('"', '""') + '"').pluck().get();
    parentPort.postMessage({ ok: {
      journalMode, tables,
      integrityCheck: db.prepare("PRAGMA integrity_check").pluck().all().slice(0, 20).join("; "),
      snapshotJournalMode: String(db.pragma("journal_mode", { simple: true })),
      pageSize: Number(db.pragma("page_size", { simple: true })),
      pageCount: Number(db.pragma("page_count", { simple: true })),
    } });
  } finally {
    db.close();
  }
})().catch((err) => parentPort.postMessage({ error: { step, file, message: String((err && err.message) || err), code: err && err.code } }));
`;

export interface WorkerSnapshot {
  /** The live database's journal mode. */
  journalMode: string;
  snapshotJournalMode: string;
  integrityCheck: string;
  pageSize: number;
  pageCount: number;
  tables: Record<string, number>;
}

/** A failure inside the worker, with the step and file it was at and SQLite's error code, for sqlite.ts to name. */
export class SnapshotWorkerFailure extends Error {
  constructor(readonly step: string, readonly file: string, message: string, readonly code: unknown) {
    super(message);
  }
}

/**
 * Copies `livePath` to `destPath` page for page (retrying SQLITE_BUSY until `busyMs`), then inspects the copy.
 * `onCopied` runs once `destPath` holds its final bytes, before the inspection (integrity_check) starts.
 */
export async function snapshotInWorker(livePath: string, destPath: string, busyMs: number, onCopied?: () => void): Promise<WorkerSnapshot> {
  const msg = await runSqliteThread<{ ok?: WorkerSnapshot; error?: { step: string; file: string; message: string; code: unknown } }>(
    WORKER_SOURCE, { livePath, destPath, busyMs },
    (why) => new SnapshotWorkerFailure("snapshot database", livePath, `the snapshot thread: ${why}`, undefined),
    (note) => { if (note === "copied") onCopied?.(); });
  if (msg.ok) return msg.ok;
  throw new SnapshotWorkerFailure(msg.error!.step, msg.error!.file, msg.error!.message, msg.error!.code);
}
