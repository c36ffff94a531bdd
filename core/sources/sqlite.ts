// The SQLite source: consistent snapshots of the live database (VACUUM INTO) and restores into it through SQLite's backup API.
import { existsSync, promises as fsp } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { DatabaseError, NotFoundError, errorMessage } from "../errors.ts";
import type { DatabaseFacts } from "../manifest.ts";
import { syncFileAndDir } from "../storage/fs-storage.ts";
import { timePhase } from "../v2/phase-clock.ts";
import { SnapshotWorkerFailure, snapshotInWorker } from "./sqlite-snapshot-worker.ts";
import { CHECK_CACHE_KIB } from "./sqlite-thread.ts";

export interface SqliteHeader { pageSize: number; walMode: boolean; writeVersion: number; readVersion: number }

export interface SnapshotOptions {
  /** Override for tests: report this statfs type instead of probing. */
  fsType?: number;
  busyTimeoutMs?: number;
  /**
   * vacuum-into (default) rebuilds the file compactly; backup-api copies every page to the same page number, so an
   * unchanged page is an unchanged byte range and content-addressed chunks of it dedupe (format v2).
   */
  method?: "vacuum-into" | "backup-api";
  /**
   * backup-api only: called once the destination holds the snapshot's final bytes, before its integrity_check, so the
   * caller can read it meanwhile. Nothing read may be relied on unless the returned promise resolves (it removes the
   * file when the check fails).
   */
  onCopied?: () => void;
}

export interface RestoreDbOptions {
  busyTimeoutMs?: number;
  /** Called once the copy has committed into the live database: from then on, it has changed. */
  onCopied?: () => void;
  /**
   * The caller has just passed `snapshotPath` through integrity_check and keeps it where nothing else writes (a
   * restore's private staging folder): checking it again here would only re-read the whole database.
   */
  snapshotChecked?: boolean;
}

const DEFAULT_BUSY_MS = 10_000;
const HEADER_MAGIC = Buffer.from("SQLite format 3\0", "latin1");
// better-sqlite3 clamps progress' return to 0..2^31-1 (so -1, "all", is unavailable); this copies and commits in one step.
const ALL_PAGES = 0x7fffffff;

export async function readSqliteHeader(file: string): Promise<SqliteHeader> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new NotFoundError(`read database header: ${file} does not exist`);
    }
    throw new DatabaseError(`read database header: cannot open ${file}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const buf = Buffer.alloc(100);
    const { bytesRead } = await handle.read(buf, 0, 100, 0);
    if (bytesRead < 100 || !buf.subarray(0, 16).equals(HEADER_MAGIC)) {
      throw new DatabaseError(`read database header: ${file} is not a SQLite 3 database`);
    }
    const rawPageSize = buf.readUInt16BE(16);
    const writeVersion = buf[18] ?? 0;
    const readVersion = buf[19] ?? 0;
    return {
      // The format stores 65536 as 1 because it does not fit in two bytes.
      pageSize: rawPageSize === 1 ? 65536 : rawPageSize,
      // Either byte at 2 means SQLite will go through the -wal/-shm files, so treat it as WAL for safety checks.
      walMode: writeVersion === 2 || readVersion === 2,
      writeVersion,
      readVersion,
    };
  } finally {
    await handle.close();
  }
}

// statfs f_type magics of filesystems shared between hosts, from linux/magic.h, statfs(2) and coreutils' stat.c
// (which tags each type "remote"). FUSE (0x65735546) and overlayfs are left out: they are at least as often local
// (fuse-overlayfs, virtiofs, container layers) and refusing them would block ordinary hosts.
const NETWORK_FS: ReadonlyMap<number, string> = new Map([
  [0x6969, "NFS (also AWS EFS)"], [0x517b, "SMB"], [0xff534d42, "CIFS"], [0xfe534d42, "SMB2/3"],
  [0x00c36400, "CephFS"], [0x5346414f, "AFS"], [0x6b414653, "kAFS"], [0x73757245, "Coda"],
  [0x01021997, "9p (VM/WSL host share)"], [0x564c, "Novell NCP"], [0x0bd00bd0, "Lustre"], [0x47504653, "GPFS"],
  [0x19830326, "BeeGFS"], [0xaad7aaea, "PanFS"], [0x786f4256, "VirtualBox shared folder"],
  [0xbacbacbc, "VMware shared folder"], [0x7c7c6673, "Parallels shared folder"],
]);

// f_type is a signed long in some ABIs, so CIFS' 0xFF534D42 can arrive negative; compare the low 32 bits.
function fsMagic(type: number | bigint): number {
  return typeof type === "bigint" ? Number(BigInt.asUintN(32, type)) : type >>> 0;
}

export function isNetworkFsType(type: number | bigint): boolean {
  return NETWORK_FS.has(fsMagic(type));
}

export async function filesystemType(file: string): Promise<number> {
  return Number((await fsp.statfs(file)).type);
}

export async function snapshotDatabase(
  livePath: string,
  destPath: string,
  options: SnapshotOptions = {},
): Promise<DatabaseFacts> {
  if (!(await exists(livePath))) {
    throw new NotFoundError(`snapshot database: ${livePath} does not exist; set DATABASE_PATH or CRM_ROOT`);
  }
  const header = await readSqliteHeader(livePath);
  if (header.walMode) {
    const fsType = options.fsType ?? (await filesystemType(livePath));
    if (isNetworkFsType(fsType)) {
      const name = NETWORK_FS.get(fsMagic(fsType)) ?? "network";
      throw new DatabaseError(
        `snapshot database: ${livePath} is in WAL mode on a network filesystem (${name}, statfs type 0x${fsMagic(fsType).toString(16)}). ` +
          `WAL coordinates readers and writers through shared memory (the -shm file, mmap'ed), which NFS/EFS/SMB cannot share ` +
          `between hosts, so a snapshot taken here could miss or tear the app's latest commits, and the app itself risks corruption. ` +
          `Run the backup on the host that runs the app, or stop the app and switch the database to rollback journaling ` +
          `(sqlite3 ${livePath} 'PRAGMA journal_mode=DELETE') and configure the app to keep it.`,
      );
    }
  }
  if ((await fsp.stat(destPath).catch(() => null))?.size) {
    // Not ours to delete: refuse before touching it rather than clean it up on failure.
    throw new DatabaseError(`snapshot database: destination ${destPath} already exists and is not empty`);
  }
  const busyMs = options.busyTimeoutMs ?? DEFAULT_BUSY_MS;
  const method = options.method ?? "vacuum-into";
  try {
    let facts: DatabaseFacts;
    if (method === "backup-api") {
      // The copy and its integrity_check run on a worker thread, so the rest of the backup goes on meanwhile.
      const w = await timePhase("db snapshot + integrity_check (thread)", () => snapshotInWorker(livePath, destPath, busyMs, options.onCopied))
        .catch((err: unknown) => { throw err instanceof SnapshotWorkerFailure ? sqliteFailure(err.step, err.file, err, busyMs) : err; });
      facts = {
        sourcePath: livePath, method, integrityCheck: w.integrityCheck, journalMode: w.journalMode,
        pageSize: w.pageSize, pageCount: w.pageCount, tables: w.tables,
      };
    } else {
      const journalMode = useDb(livePath, { readonly: true, busyMs }, "snapshot database", (source) => {
        // One read transaction: the copy is a single consistent point in time even while the app keeps writing.
        // VACUUM INTO gives the copy the source's cache_size: 2 MB each, not 16, as every page is read and written once.
        source.pragma("cache_size = -2000");
        source.prepare("VACUUM INTO ?").run(destPath);
        return String(source.pragma("journal_mode", { simple: true }));
      });
      await ensureRollbackJournal(destPath);
      facts = { ...inspectSnapshot(destPath, livePath), method, journalMode };
    }
    if (facts.integrityCheck !== "ok") {
      throw new DatabaseError(`snapshot database: integrity_check of the snapshot of ${livePath} failed: ${facts.integrityCheck}`);
    }
    return facts;
  } catch (err) {
    await removeDbFiles(destPath);
    throw err;
  }
}

export function inspectSnapshot(file: string, sourcePath: string): DatabaseFacts {
  return useDb(file, { readonly: true, busyMs: DEFAULT_BUSY_MS }, "inspect snapshot", (db) => {
    const tables: Record<string, number> = {};
    const names = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
      .pluck()
      .all() as string[];
    for (const name of names) {
      tables[name] = db.prepare(`SELECT count(*) FROM ${quoteIdent(name)}`).pluck().get() as number;
    }
    return {
      sourcePath,
      method: "vacuum-into",
      integrityCheck: integrityCheck(db),
      journalMode: String(db.pragma("journal_mode", { simple: true })),
      pageSize: Number(db.pragma("page_size", { simple: true })),
      pageCount: Number(db.pragma("page_count", { simple: true })),
      tables,
    };
  });
}

export async function restoreDatabaseInto(
  snapshotPath: string,
  livePath: string,
  options: RestoreDbOptions = {},
): Promise<{ pages: number }> {
  const busyMs = options.busyTimeoutMs ?? DEFAULT_BUSY_MS;
  const snapHeader = await readSqliteHeader(snapshotPath);
  if (!(await exists(path.dirname(livePath)))) {
    throw new NotFoundError(`restore database: folder ${path.dirname(livePath)} does not exist`);
  }
  const liveStat = await fsp.stat(livePath).catch(() => null);
  const liveHeader = liveStat?.size ? await readSqliteHeader(livePath) : null;
  if (liveHeader?.walMode && liveHeader.pageSize !== snapHeader.pageSize) {
    throw new DatabaseError(
      `restore database: ${livePath} is in WAL mode with ${liveHeader.pageSize}-byte pages but the snapshot has ` +
        `${snapHeader.pageSize}-byte pages; SQLite's backup API cannot change the page size of a WAL database. Stop the app, ` +
        `run sqlite3 ${livePath} 'PRAGMA journal_mode=DELETE', restore, then switch it back with 'PRAGMA journal_mode=WAL'. ` +
        `The live database was not changed.`,
    );
  }
  // The backup copies page 1 byte for byte, so a WAL-flagged source would flip a rollback-journal live database into WAL.
  // Beside the snapshot (a restore's staging folder), so whatever ends the restore also removes it, even after a kill.
  const workDir = snapHeader.walMode ? await fsp.mkdtemp(path.join(path.dirname(snapshotPath), ".colab-wal-")) : null;
  try {
    let source = snapshotPath;
    if (workDir) {
      source = path.join(workDir, "snapshot.db");
      // Read-write so closing it removes the -wal/-shm that merely opening a WAL file creates beside the snapshot.
      useDb(snapshotPath, { readonly: false, busyMs }, "restore database", (db) => db.prepare("VACUUM INTO ?").run(source));
      await ensureRollbackJournal(source);
    }
    const check = source === snapshotPath && options.snapshotChecked ? { integrityCheck: "ok" } : inspectSnapshot(source, snapshotPath);
    if (check.integrityCheck !== "ok") {
      throw new DatabaseError(`restore database: snapshot ${snapshotPath} fails integrity_check (${check.integrityCheck}); the live database was not changed`);
    }
    const pages = await backupWithRetry(source, livePath, busyMs);
    options.onCopied?.();
    await syncCopiedWal(livePath);
    const after = await readSqliteHeader(livePath);
    if (liveHeader && after.walMode !== liveHeader.walMode) {
      throw new DatabaseError(`restore database: ${livePath} changed journal mode during the restore (WAL ${liveHeader.walMode} -> ${after.walMode})`);
    }
    // A snapshot checked by the caller passed the full integrity_check as these very bytes (index against table
    // included), and the backup API copies pages verbatim: what the copy could still get wrong is a page's structure
    // (I/O), which quick_check reads every page for, at a tenth of the time on the bench's 104 MB database.
    const result = useDb(livePath, { readonly: false, busyMs }, "restore database", options.snapshotChecked ? quickCheck : integrityCheck);
    if (result !== "ok") throw new DatabaseError(`restore database: ${options.snapshotChecked ? "quick_check" : "integrity_check"} of ${livePath} after the restore: ${result}`);
    return { pages };
  } finally {
    if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
  }
}

/** For tests: told each -wal file restoreDatabaseInto fsynced, with its size then. */
export const restoreDbHooks: { walSynced?: (file: string, size: number) => void } = {};

/**
 * Makes the copy durable when it is still in the live database's -wal. Closing the copy's connection checkpoints the
 * copy into the database file and fsyncs it (then no -wal is left), unless another connection (the app) still has the
 * database open: then the copy stays in the -wal, and a WAL-mode commit does not fsync (better-sqlite3 builds SQLite
 * with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, NORMAL; strace shows 104 MB of frames written, no fsync after). The restore
 * commits right after the swap and then deletes its rollback copy, so a power cut then could bring the old database
 * back under the restored files. A -wal gone meanwhile was checkpointed (and synced) by the connection that closed last.
 */
async function syncCopiedWal(livePath: string): Promise<void> {
  const wal = `${livePath}-wal`;
  const size = (await fsp.stat(wal).catch(() => null))?.size ?? 0;
  if (size === 0) return;
  try {
    await syncFileAndDir(wal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new DatabaseError(`restore database: could not make the copy in ${wal} durable (fsync): ${errorMessage(err)}`, { cause: err });
  }
  restoreDbHooks.walSynced?.(wal, size);
}

// better-sqlite3's backup() opens the destination itself with no busy handler and steps from setImmediate. Its first
// step (0 pages) takes the destination write lock (EXCLUSIVE in rollback mode, the WAL write lock in WAL mode); when
// that is SQLITE_BUSY it reports {totalPages: 0, remainingPages: 0} and resolves as if finished, without calling
// `progress`. So "progress was called" is the proof the copy ran, and busy is retried here until the deadline.
async function backupWithRetry(source: string, livePath: string, busyMs: number): Promise<number> {
  const deadline = Date.now() + busyMs;
  const src = openDb(source, { readonly: true, busyMs }, "restore database");
  try {
    // Every page is read once: SQLite's 2 MB cache, not better-sqlite3's 16 MB, which the copy filled for nothing (the
    // swap's peak RSS was 14 MiB higher on the bench's 104 MB database, at the same speed).
    src.pragma("cache_size = -2000");
    for (;;) {
      const cookieBefore = (await exists(livePath)) ? schemaVersion(livePath, busyMs) : null;
      let locked = false;
      let pages = 0;
      try {
        const result = await src.backup(livePath, {
          progress: ({ totalPages }) => {
            // A BUSY in a later step leaves remainingPages unchanged and lands here again; stepping again retries in place.
            if (locked && Date.now() >= deadline) throw new BusyAbort();
            locked = true;
            pages = totalPages;
            return ALL_PAGES;
          },
        });
        pages = result.totalPages || pages;
      } catch (err) {
        if (!(err instanceof BusyAbort) && !isBusy(err)) {
          throw new DatabaseError(`restore database: backup into ${livePath} failed: ${errorMessage(err)}`, { cause: err });
        }
        locked = false;
      }
      // The backup bumps the schema cookie on commit; unchanged means nothing was written.
      if (locked && (cookieBefore === null || schemaVersion(livePath, busyMs) !== cookieBefore)) return pages;
      if (Date.now() >= deadline) {
        throw new DatabaseError(
          `restore database: ${livePath} stayed locked by another connection for ${busyMs} ms (SQLITE_BUSY), so the restore ` +
            `could not start; the live database was not changed. Stop the app or wait for its long transaction, or raise the busy timeout.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(1, deadline - Date.now()))));
    }
  } finally {
    src.close();
  }
}

class BusyAbort extends Error {}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

function schemaVersion(file: string, busyMs: number): number {
  return useDb(file, { readonly: false, busyMs }, "restore database", (db) => Number(db.pragma("schema_version", { simple: true })));
}

function integrityCheck(db: Database.Database): string {
  // Not better-sqlite3's 16 MB: memory stays flat as the database grows; enough for the index pages it revisits
  // (CHECK_CACHE_KIB in sqlite-thread.ts has the measurement).
  db.pragma(`cache_size = -${CHECK_CACHE_KIB}`);
  return (db.prepare("PRAGMA integrity_check").pluck().all() as string[]).slice(0, 20).join("; ");
}

function quickCheck(db: Database.Database): string {
  // No index lookups (each page is read once), so SQLite's 2 MB default is as fast as more.
  db.pragma("cache_size = -2000");
  return (db.prepare("PRAGMA quick_check").pluck().all() as string[]).slice(0, 20).join("; ");
}

// VACUUM INTO writes a fresh rollback-journal file in current SQLite (bytes 18/19 = 1), but that is not promised,
// and a WAL-flagged snapshot would need a -wal beside it forever after; normalise so the snapshot is one file.
async function ensureRollbackJournal(file: string): Promise<void> {
  if (!(await readSqliteHeader(file)).walMode) return;
  useDb(file, { readonly: false, busyMs: DEFAULT_BUSY_MS }, "snapshot database", (db) => db.pragma("journal_mode = DELETE"));
  if ((await readSqliteHeader(file)).walMode) {
    throw new DatabaseError(`snapshot database: could not switch ${file} out of WAL mode`);
  }
}

function openDb(file: string, opts: { readonly: boolean; busyMs: number }, step: string): Database.Database {
  if (!existsSync(file)) throw new NotFoundError(`${step}: ${file} does not exist`);
  try {
    return new Database(file, { readonly: opts.readonly, fileMustExist: true, timeout: opts.busyMs });
  } catch (err) {
    throw sqliteFailure(step, file, err, opts.busyMs);
  }
}

function useDb<T>(file: string, opts: { readonly: boolean; busyMs: number }, step: string, fn: (db: Database.Database) => T): T {
  const db = openDb(file, opts, step);
  try {
    return fn(db);
  } catch (err) {
    throw sqliteFailure(step, file, err, opts.busyMs);
  } finally {
    db.close();
  }
}

function sqliteFailure(step: string, file: string, err: unknown, busyMs: number): Error {
  if (err instanceof DatabaseError || err instanceof NotFoundError) return err;
  if (isBusy(err)) {
    return new DatabaseError(`${step}: ${file} stayed locked by another connection for more than ${busyMs} ms (SQLITE_BUSY); retry later or raise the busy timeout`, { cause: err });
  }
  return new DatabaseError(`${step}: ${file}: ${errorMessage(err)}`, { cause: err });
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const exists = (file: string): Promise<boolean> => fsp.access(file).then(() => true, () => false);

async function removeDbFiles(file: string): Promise<void> {
  await Promise.all(["", "-journal", "-wal", "-shm"].map((suffix) => fsp.rm(file + suffix, { force: true })));
}
