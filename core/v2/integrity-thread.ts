// The database's integrity_check on its own thread, so decoding the other components goes on while SQLite reads.
import { DatabaseError } from "../errors.ts";
import { inspectSnapshot } from "../sources/sqlite.ts";
import { CHECK_CACHE_KIB, runSqliteThread, sqliteModulePath } from "../sources/sqlite-thread.ts";

export interface IntegrityFacts { integrityCheck: string; tables: number; pageCount: number }

/**
 * better-sqlite3 calls are synchronous: on the main thread integrity_check (seconds on a 100 MB database) would stop
 * it from feeding the verify threads. The thread loads the same module by its resolved path (an eval'd worker resolves
 * bare names from the working folder, not from here).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
let Database;
try {
  Database = require(workerData.sqlitePath);
} catch (err) {
  parentPort.postMessage({ unavailable: String((err && err.message) || err) });
}
if (Database) try {
  const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  try {
    // Not better-sqlite3's 16 MB, which integrity_check fills (measured on a 210 MB database: 48 MB RSS at 2 MB against
    // 65 MB, in the same time); enough for the index pages it revisits (CHECK_CACHE_KIB in sqlite-thread.ts).
    db.pragma("cache_size = -${CHECK_CACHE_KIB}");
    const integrityCheck = db.prepare("PRAGMA integrity_check").pluck().all().slice(0, 20).join("; ");
    const tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\\\_%' ESCAPE '\\\\'").pluck().get();
    const pageCount = Number(db.pragma("page_count", { simple: true }));
    parentPort.postMessage({ facts: { integrityCheck, tables, pageCount } });
  } finally {
    db.close();
  }
} catch (err) {
  parentPort.postMessage({ error: String((err && err.message) || err) });
}
`;

/** integrity_check, table count and page count of the SQLite file at `file`; DatabaseError when SQLite cannot read it. */
export async function checkDatabaseFile(file: string): Promise<IntegrityFacts> {
  try {
    sqliteModulePath();
  } catch {
    return inline(file);
  }
  const m = await runSqliteThread<{ facts?: IntegrityFacts; error?: string; unavailable?: string }>(WORKER_SOURCE, { file },
    (why, cause) => new DatabaseError(`check database ${file}: the integrity_check thread: ${why}`, cause ? { cause } : undefined));
  if (m.facts) return m.facts;
  if (m.error !== undefined) throw new DatabaseError(`check database ${file}: ${m.error}`);
  // The module would not load in a thread (a bundle that resolves it differently): check here instead.
  return inline(file);
}

function inline(file: string): IntegrityFacts {
  const facts = inspectSnapshot(file, "");
  return { integrityCheck: facts.integrityCheck, tables: Object.keys(facts.tables).length, pageCount: facts.pageCount };
}
