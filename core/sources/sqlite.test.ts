// Tests for the SQLite source against real files and real concurrent processes (writers and an app-like holder).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatabaseError, NotFoundError } from "../errors.ts";
import { Holder, Writer } from "../../test/fixtures/sqlite-children.ts";
import {
  filesystemType,
  inspectSnapshot,
  isNetworkFsType,
  readSqliteHeader,
  restoreDatabaseInto,
  restoreDbHooks,
  snapshotDatabase,
} from "./sqlite.ts";

type Mode = "wal" | "delete";
type Method = "vacuum-into" | "backup-api";
const EXT4 = 0xef53;
const NFS = 0x6969;

let dir: string;
const cleanups: Array<() => unknown> = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sqlite-source-"));
});
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  rmSync(dir, { recursive: true, force: true });
});

const file = (name: string) => path.join(dir, name);

function withDb<T>(p: string, fn: (db: Database.Database) => T): T {
  const db = new Database(p, { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function pairsDb(p: string, mode: Mode, seed: number): void {
  withDb(p, (db) => {
    db.pragma(`journal_mode = ${mode}`);
    db.exec("CREATE TABLE a (id INTEGER PRIMARY KEY, payload BLOB); CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, payload BLOB)");
    db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${seed})
      INSERT INTO a (payload) SELECT randomblob(300) FROM n`);
    db.exec("INSERT INTO b (a_id, payload) SELECT id, randomblob(300) FROM a");
  });
}

function itemsDb(p: string, mode: Mode, names: string[], pageSize = 4096): void {
  withDb(p, (db) => {
    db.pragma(`page_size = ${pageSize}`);
    db.pragma(`journal_mode = ${mode}`);
    db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); CREATE TABLE "odd ""name" (x)');
    const insert = db.prepare("INSERT INTO items (name) VALUES (?)");
    for (const name of names) insert.run(name);
  });
}

const count = (p: string, table: string) => withDb(p, (db) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number);
const names = (p: string) => withDb(p, (db) => db.prepare("SELECT name FROM items ORDER BY id").pluck().all() as string[]);
const headerBytes = (p: string) => [...readFileSync(p).subarray(18, 20)];

/** A verified snapshot holding new-1..new-5, taken from a throwaway database. */
async function newSnapshot(): Promise<string> {
  itemsDb(file("source.db"), "delete", ["new-1", "new-2", "new-3", "new-4", "new-5"]);
  await snapshotDatabase(file("source.db"), file("snapshot.db"));
  return file("snapshot.db");
}

async function startHolder(p: string): Promise<Holder> {
  const holder = await Holder.start(p);
  cleanups.push(() => holder.close());
  return holder;
}

describe("readSqliteHeader", () => {
  it("reads the page size and journal mode bytes", async () => {
    itemsDb(file("wal.db"), "wal", ["x"], 8192);
    itemsDb(file("delete.db"), "delete", ["x"], 65536);
    expect(await readSqliteHeader(file("wal.db"))).toEqual({ pageSize: 8192, walMode: true, writeVersion: 2, readVersion: 2 });
    expect(await readSqliteHeader(file("delete.db"))).toEqual({ pageSize: 65536, walMode: false, writeVersion: 1, readVersion: 1 });
  });

  it("names non-SQLite and missing files", async () => {
    writeFileSync(file("notes.db"), "x".repeat(4096));
    writeFileSync(file("short.db"), "SQLite format 3\0");
    for (const name of ["notes.db", "short.db"]) {
      const err = await readSqliteHeader(file(name)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseError);
      expect((err as Error).message).toBe(`read database header: ${file(name)} is not a SQLite 3 database`);
    }
    await expect(readSqliteHeader(file("missing.db"))).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("filesystem type", () => {
  it.each([
    [NFS, true], [0x517b, true], [0xff534d42, true], [0xfe534d42, true], [0x00c36400, true], [0x01021997, true],
    [0xff534d42 | 0, true], [0x6969n, true], [0xffffffffff534d42n, true],
    [EXT4, false], [0x58465342, false], [0x01021994, false], [0x794c7630, false], [0x65735546, false], [0, false],
  ] as Array<[number | bigint, boolean]>)("isNetworkFsType(%s) is %s", (type, expected) => {
    expect(isNetworkFsType(type)).toBe(expected);
  });

  it("probes a real path", async () => {
    const type = await filesystemType(dir);
    expect(Number.isInteger(type) && type > 0).toBe(true);
  });
});

describe("snapshotDatabase", () => {
  // backup-api runs its copy and integrity_check on a worker thread (sqlite-snapshot-worker.ts): the same promises hold.
  it.each([["wal", "vacuum-into"], ["delete", "vacuum-into"], ["wal", "backup-api"], ["delete", "backup-api"]] as [Mode, Method][])("takes consistent snapshots while another process writes (%s, %s)", async (mode, method) => {
    const live = file("live.db");
    pairsDb(live, mode, 4000);
    const writer = await Writer.start(live);
    cleanups.push(() => writer.kill());
    let last = 0;
    for (let i = 0; i < 3; i++) {
      const dest = file(`snap-${i}.db`);
      const before = count(live, "a");
      const facts = await snapshotDatabase(live, dest, { fsType: EXT4, method });
      const after = count(live, "a");
      expect(facts).toMatchObject({ sourcePath: live, method, integrityCheck: "ok", journalMode: mode });
      expect(facts.tables.a).toBe(facts.tables.b);
      expect(facts.tables.a).toBeGreaterThanOrEqual(before);
      expect(facts.tables.a).toBeLessThanOrEqual(after);
      expect(count(dest, "a")).toBe(facts.tables.a);
      last = facts.tables.a ?? 0;
      expect(withDb(dest, (db) => db.pragma("integrity_check", { simple: true }))).toBe("ok");
    }
    expect(last).toBeGreaterThan(4000); // the snapshots really raced a moving database
    const commits = await writer.stop();
    expect(commits).toBeGreaterThan(0);
    expect(count(live, "a")).toBe(4000 + commits);
  });

  it.each(["vacuum-into", "backup-api"] as Method[])("writes one self-contained rollback-journal file that the sqlite3 CLI opens (%s)", async (method) => {
    const live = file("live.db");
    pairsDb(live, "wal", 500);
    const holder = new Database(live); // keeps the live -wal/-shm in place, as the running app would
    cleanups.push(() => holder.close());
    holder.prepare("INSERT INTO a (payload) VALUES (x'00')").run(); // committed only to the -wal so far
    const out = path.join(dir, "out");
    mkdirSync(out);
    const facts = await snapshotDatabase(live, path.join(out, "dev.db"), { method });
    expect(readdirSync(out)).toEqual(["dev.db"]);
    expect(headerBytes(path.join(out, "dev.db"))).toEqual([1, 1]);
    expect(facts.tables).toEqual({ a: 501, b: 500 });
    expect(facts.pageCount * facts.pageSize).toBe(statSync(path.join(out, "dev.db")).size);
    const cli = execFileSync("/usr/bin/sqlite3", [path.join(out, "dev.db"), "PRAGMA integrity_check; PRAGMA journal_mode; SELECT count(*) FROM a;"]);
    expect(cli.toString().trim().split("\n")).toEqual(["ok", "delete", "501"]);
  });

  it("refuses WAL on a network filesystem but allows WAL locally and rollback journals anywhere", async () => {
    pairsDb(file("wal.db"), "wal", 10);
    pairsDb(file("delete.db"), "delete", 10);
    const err = await snapshotDatabase(file("wal.db"), file("s1.db"), { fsType: NFS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toMatch(/WAL mode on a network filesystem \(NFS.*shared memory.*host that runs the app.*journal_mode=DELETE/);
    expect(existsSync(file("s1.db"))).toBe(false);
    await expect(snapshotDatabase(file("wal.db"), file("s2.db"))).resolves.toMatchObject({ integrityCheck: "ok", journalMode: "wal" });
    await expect(snapshotDatabase(file("wal.db"), file("s3.db"), { fsType: EXT4 })).resolves.toMatchObject({ tables: { a: 10 } });
    await expect(snapshotDatabase(file("delete.db"), file("s4.db"), { fsType: NFS })).resolves.toMatchObject({ journalMode: "delete" });
  });

  it("names a missing or non-SQLite source and leaves no snapshot behind", async () => {
    const missing = await snapshotDatabase(file("nope.db"), file("s.db")).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toBe(`snapshot database: ${file("nope.db")} does not exist; set DATABASE_PATH or CRM_ROOT`);
    writeFileSync(file("text.db"), "hello, not a database\n".repeat(20));
    const bad = await snapshotDatabase(file("text.db"), file("s.db")).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DatabaseError);
    expect((bad as Error).message).toBe(`read database header: ${file("text.db")} is not a SQLite 3 database`);
    expect(existsSync(file("s.db"))).toBe(false);
  });

  it("refuses to overwrite a non-empty destination", async () => {
    pairsDb(file("live.db"), "delete", 5);
    writeFileSync(file("taken.db"), "keep me");
    await expect(snapshotDatabase(file("live.db"), file("taken.db"))).rejects.toThrow(/already exists/);
    expect(readFileSync(file("taken.db"), "utf8")).toBe("keep me");
  });

  it("inspectSnapshot counts every user table, quoting odd names", () => {
    itemsDb(file("i.db"), "delete", ["a", "b"]);
    withDb(file("i.db"), (db) => db.exec('INSERT INTO "odd ""name" VALUES (1)'));
    expect(inspectSnapshot(file("i.db"), "/crm/dev.db").tables).toEqual({ items: 2, 'odd "name': 1 });
  });

  it("counts the same tables on the snapshot thread (backup-api) as inspectSnapshot, odd names included", async () => {
    itemsDb(file("i.db"), "wal", ["a", "b", "c"]);
    withDb(file("i.db"), (db) => db.exec('INSERT INTO "odd ""name" VALUES (1)'));
    const facts = await snapshotDatabase(file("i.db"), file("s.db"), { method: "backup-api", fsType: EXT4 });
    expect(facts).toEqual({ ...inspectSnapshot(file("s.db"), file("i.db")), method: "backup-api", journalMode: "wal" });
    expect(facts.tables).toEqual({ items: 3, 'odd "name': 1 });
  });

  it("says when the snapshot file is final (out of WAL mode), before its integrity_check answers (backup-api)", async () => {
    itemsDb(file("i.db"), "wal", ["a", "b", "c"]);
    let atCopied: Buffer | undefined;
    let answered = false;
    const taking = snapshotDatabase(file("i.db"), file("s.db"), { method: "backup-api", fsType: EXT4, onCopied: () => {
      expect(answered).toBe(false);
      atCopied = readFileSync(file("s.db"));
    } }).then((facts) => {
      answered = true;
      return facts;
    });
    const facts = await taking;
    expect(facts.integrityCheck).toBe("ok");
    // The bytes seen at the signal are the snapshot's final bytes, header already switched to a rollback journal.
    expect(atCopied?.equals(readFileSync(file("s.db")))).toBe(true);
    expect([atCopied![18], atCopied![19]]).toEqual([1, 1]);
  });
});

describe("restoreDatabaseInto", () => {
  it.each(["wal", "delete"] as Mode[])("restores in place under an app holding the database open (%s)", async (mode) => {
    const live = file("live.db");
    itemsDb(live, mode, ["old-1", "old-2", "old-3"]);
    const snapshot = await newSnapshot();
    const holder = await startHolder(live);
    expect(await holder.names()).toEqual(["old-1", "old-2", "old-3"]);
    const inode = statSync(live).ino;

    const { pages } = await restoreDatabaseInto(snapshot, live);
    expect(pages).toBe(inspectSnapshot(snapshot, snapshot).pageCount);
    expect(await holder.names()).toEqual(["new-1", "new-2", "new-3", "new-4", "new-5"]);
    expect(await holder.run("INSERT INTO items (name) VALUES (?)", "from-app")).toBe(1);
    expect(names(live)).toEqual(["new-1", "new-2", "new-3", "new-4", "new-5", "from-app"]);
    expect(statSync(live).ino).toBe(inode);
    expect(existsSync(`${live}-journal`)).toBe(false);
    expect(headerBytes(live)).toEqual(mode === "wal" ? [2, 2] : [1, 1]);
    await holder.close();
    expect(names(live)).toContain("from-app");
    expect(withDb(live, (db) => db.pragma("integrity_check", { simple: true }))).toBe("ok");
  });

  it("fsyncs the copy left in the -wal while the app holds the database open, and has none to sync when nothing does", async () => {
    const synced: Array<{ file: string; size: number }> = [];
    restoreDbHooks.walSynced = (f, size) => synced.push({ file: f, size });
    cleanups.push(() => (restoreDbHooks.walSynced = undefined));
    const live = file("live.db");
    itemsDb(live, "wal", ["old-1"]);
    const snapshot = await newSnapshot();
    const pageSize = (await readSqliteHeader(snapshot)).pageSize;
    const holder = await startHolder(live);
    expect(await holder.names()).toEqual(["old-1"]);

    const { pages } = await restoreDatabaseInto(snapshot, live);
    // The app's open connection kept the copy from being checkpointed: every page is a frame in the -wal, synced.
    expect(synced).toEqual([{ file: `${live}-wal`, size: expect.any(Number) }]);
    expect(synced[0]!.size).toBeGreaterThanOrEqual(pages * pageSize);
    expect(await holder.names()).toHaveLength(5);
    await holder.close();

    // Alone, the copy's connection checkpoints on close (SQLite fsyncs the database then): no -wal is left to sync.
    synced.length = 0;
    itemsDb(file("other.db"), "wal", ["old-1"]);
    await restoreDatabaseInto(snapshot, file("other.db"));
    expect(existsSync(`${file("other.db")}-wal`)).toBe(false);
    expect(synced).toEqual([]);
    expect(names(file("other.db"))).toHaveLength(5);
  });

  it.each(["wal", "delete"] as Mode[])("waits out a write transaction held by the app (%s)", async (mode) => {
    const live = file("live.db");
    itemsDb(live, mode, ["old-1"]);
    const snapshot = await newSnapshot();
    const holder = await startHolder(live);
    const started = Date.now();
    const { released } = await holder.hold("immediate", 300);
    await restoreDatabaseInto(snapshot, live, { busyTimeoutMs: 5_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await released;
    expect(names(live)).toHaveLength(5);
    expect(await holder.names()).toHaveLength(5);
  });

  it("waits out a reader in rollback-journal mode (the copy needs an EXCLUSIVE lock)", async () => {
    const live = file("live.db");
    itemsDb(live, "delete", ["old-1"]);
    const snapshot = await newSnapshot();
    const holder = await startHolder(live);
    const { released } = await holder.hold("read", 300);
    await restoreDatabaseInto(snapshot, live, { busyTimeoutMs: 5_000 });
    await released;
    expect(names(live)).toHaveLength(5);
  });

  it.each([
    ["wal", "immediate"],
    ["delete", "immediate"],
    ["delete", "read"],
  ] as Array<[Mode, "immediate" | "read"]>)("gives up after busyTimeoutMs and leaves the live data alone (%s, %s)", async (mode, lock) => {
    const live = file("live.db");
    itemsDb(live, mode, ["old-1", "old-2"]);
    const snapshot = await newSnapshot();
    const holder = await startHolder(live);
    const { released } = await holder.hold(lock, 1_500);
    const err = await restoreDatabaseInto(snapshot, live, { busyTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).toMatch(/stayed locked .* 100 ms.*not changed/);
    await released;
    expect(names(live)).toEqual(["old-1", "old-2"]);
    expect(await holder.names()).toEqual(["old-1", "old-2"]);
    expect(existsSync(`${live}-journal`)).toBe(false);
  });

  it("creates the live database when there is none", async () => {
    const snapshot = await newSnapshot();
    await restoreDatabaseInto(snapshot, file("fresh.db"));
    expect(names(file("fresh.db"))).toHaveLength(5);
    expect(headerBytes(file("fresh.db"))).toEqual([1, 1]);
  });

  it("refuses a WAL live database whose page size differs, before touching it", async () => {
    const live = file("live.db");
    itemsDb(live, "wal", ["old-1"], 4096);
    itemsDb(file("big.db"), "delete", ["new-1"], 8192);
    await snapshotDatabase(file("big.db"), file("snapshot.db"));
    await expect(restoreDatabaseInto(file("snapshot.db"), live)).rejects.toThrow(/WAL mode with 4096-byte pages .* 8192-byte pages/);
    expect(names(live)).toEqual(["old-1"]);
  });

  it("names the check that ran: integrity_check of a snapshot it checks itself, quick_check after copying one the caller checked", async () => {
    const live = file("live.db");
    itemsDb(live, "delete", ["old-1"]);
    const snapshot = file("damaged.db");
    pairsDb(snapshot, "delete", 400);
    // The first two cell pointers of the last (leaf) page swapped: rows still read, but the checks find rowids out of order.
    const bytes = readFileSync(snapshot);
    const cells = bytes.subarray(bytes.length - 4096 + 8, bytes.length - 4096 + 12);
    const first = Buffer.from(cells.subarray(0, 2));
    cells.copy(cells, 0, 2, 4);
    first.copy(cells, 2);
    writeFileSync(snapshot, bytes);

    const own = await restoreDatabaseInto(snapshot, live).catch((e: Error) => e);
    expect(own).toBeInstanceOf(DatabaseError);
    expect((own as Error).message).toMatch(/snapshot .*damaged\.db fails integrity_check \(.*out of order.*\); the live database was not changed/s);
    expect(names(live)).toEqual(["old-1"]);

    // snapshotChecked: the caller vouches for the snapshot (a v2 backup's bytes, integrity_check'ed when taken), so only
    // the copy is checked, by quick_check, and the message must say so (it said integrity_check before 4757843).
    const trusted = await restoreDatabaseInto(snapshot, live, { snapshotChecked: true }).catch((e: Error) => e);
    expect(trusted).toBeInstanceOf(DatabaseError);
    expect((trusted as Error).message).toMatch(/^restore database: quick_check of .*live\.db after the restore: .*out of order/s);
  });

  it("keeps a rollback-journal live database out of WAL even when the snapshot file is WAL-flagged", async () => {
    const live = file("live.db");
    itemsDb(live, "delete", ["old-1"]);
    itemsDb(file("walsnap.db"), "wal", ["new-1", "new-2"]);
    expect(headerBytes(file("walsnap.db"))).toEqual([2, 2]);
    const holder = await startHolder(live);
    await restoreDatabaseInto(file("walsnap.db"), live);
    expect(headerBytes(live)).toEqual([1, 1]);
    expect(await holder.names()).toEqual(["new-1", "new-2"]);
    expect(readdirSync(dir).filter((n) => n.startsWith("walsnap"))).toEqual(["walsnap.db"]);
  });
});
