// The restore's database staged from the pre-restore backup's snapshot: only differing pieces decoded, the whole file
// checked, a wrong base never trusted; the snapshot as rollback copy only while the live database is unchanged.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runBackup } from "../core/backup.ts";
import type { Engine } from "../core/engine.ts";
import { RestoreError } from "../core/errors.ts";
import { DATABASE_ENTRY, type StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { rollbackFromSnapshot } from "../core/restore-rollback-copy.ts";
import { dbReuseHooks } from "../core/v2/db-reuse.ts";
import { stageV2Components } from "../core/v2/restore-staging.ts";
import { PackReader } from "../core/v2/reader.ts";
import { stageDatabaseAhead } from "../core/v2/restore-db-base.ts";
import type { Storage } from "../core/storage/storage.ts";
import { dbContent, makeCrm, makeTestEngine, tempDir } from "./helpers/crm.ts";

// Counts the early rollback copies (a second copy of the live database), and can fail the restore after its last swap.
const hooks = vi.hoisted(() => ({ earlyCopies: 0, failAfterSwap: false }));
vi.mock("../core/restore-rollback-copy.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../core/restore-rollback-copy.ts")>();
  return { ...real, startRollbackCopy: (...args: Parameters<typeof real.startRollbackCopy>) => (hooks.earlyCopies++, real.startRollbackCopy(...args)) };
});
vi.mock("../core/restore-in-place.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../core/restore-in-place.ts")>();
  return {
    ...real,
    syncStepFolders: async (...args: Parameters<typeof real.syncStepFolders>) => {
      if (hooks.failAfterSwap) throw new Error("injected failure after the swap");
      return real.syncStepFolders(...args);
    },
  };
});

afterEach(() => {
  hooks.earlyCopies = 0;
  hooks.failAfterSwap = false;
  dbReuseHooks.afterIdentity = undefined;
});

const V2 = { BACKUP_FORMAT: "v2" };
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

async function backup(engine: Engine): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

/** A database of many pieces (64 KiB each): rows spread over ~1.5 MB. */
function bulk(db: string): void {
  const h = new Database(db);
  h.exec("CREATE TABLE IF NOT EXISTS Bulk (id INTEGER PRIMARY KEY, body TEXT)");
  const ins = h.prepare("INSERT INTO Bulk (body) VALUES (?)");
  h.transaction(() => { for (let i = 0; i < 3000; i++) ins.run(`row ${i} `.padEnd(400, "x")); })();
  h.close();
}

/** Rewrites a few rows near the end: only the pieces holding them (and the header page's) change. */
function touchSomeRows(db: string): void {
  const h = new Database(db);
  h.exec("UPDATE Bulk SET body = 'changed ' || id WHERE id > 2900");
  h.close();
}

/** The live database's mtime a minute back, so its identity counts as settled (db-reuse.ts SETTLED_MS). */
function settle(db: string): void {
  const past = new Date(Date.now() - 60_000);
  utimesSync(db, past, past);
}

/** `m`'s database staged into a fresh folder, optionally from a base; returns the staged file and the staging stats. */
async function stageDb(engine: Engine, m: StoredManifestV2, base?: { file: string; pieces: StoredManifestV2["components"][string]["files"][number]["blobs"] }) {
  const dir = path.join(tempDir("stage-db-"), "files");
  const stats = await stageV2Components(engine.storage, m, ["database"], dir, undefined, base ? { databaseBase: base } : {});
  return { file: path.join(dir, DATABASE_ENTRY), stats };
}

/** This process's open descriptors on files under `root` (a store's packs), from /proc/self/fd. */
function packsOpen(root: string): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(`${root}/data/`) ? [target] : [];
    } catch {
      return []; // closed meanwhile (the listing's own descriptor)
    }
  });
}

describe("staging the database from a base", () => {
  it("decodes only the pieces that differ from the base and writes the backup's exact bytes", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    touchSomeRows(crm.db);
    const later = await backup(engine);
    const base = await stageDb(engine, later);
    const db = m.components.database!.files[0]!;
    const baseDb = later.components.database!.files[0]!;
    expect(baseDb.sha256).not.toBe(db.sha256);

    const { file, stats } = await stageDb(engine, m, { file: base.file, pieces: baseDb.blobs });
    expect(sha256(file)).toBe(db.sha256);
    const differing = db.blobs.filter((b, i) => baseDb.blobs[i]?.sha256 !== b.sha256).reduce((n, b) => n + b.size, 0);
    expect(differing).toBeGreaterThan(0);
    expect(stats).toMatchObject({ filesWritten: 1, bytesDecoded: differing, bytesFromBase: db.size - differing });
    expect(stats.bytesFromBase).toBeGreaterThan(differing);
  });

  it("takes a database staged ahead from the base, and stages it itself when that one could not use its base", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    touchSomeRows(crm.db);
    const later = await backup(engine);
    const base = await stageDb(engine, later);
    const db = m.components.database!.files[0]!;
    const pieces = later.components.database!.files[0]!.blobs;
    const differing = db.blobs.filter((b, i) => pieces[i]?.sha256 !== b.sha256).reduce((n, b) => n + b.size, 0);

    const work = tempDir("ahead-");
    const ahead = stageDatabaseAhead(engine.storage, db, path.join(work, "ahead.db"), { file: base.file, pieces });
    await ahead.result;
    expect(packsOpen(engine.storage.description)).toEqual([]); // its reader closed the packs it read
    const dir = path.join(work, "files");
    const stats = await stageV2Components(engine.storage, m, ["database"], dir, undefined, { databaseAhead: ahead });
    expect(sha256(path.join(dir, DATABASE_ENTRY))).toBe(db.sha256);
    expect(existsSync(ahead.file)).toBe(false); // moved into place, not copied
    expect(stats).toMatchObject({ filesWritten: 1, bytesDecoded: differing, bytesFromBase: db.size - differing });

    // A base that is gone: the staged-ahead one gives up, then the given base is tried, then the whole is decoded.
    const gone = stageDatabaseAhead(engine.storage, db, path.join(work, "gone.db"), { file: path.join(work, "missing.db"), pieces });
    const dir2 = path.join(work, "files2");
    const viaBase = await stageV2Components(engine.storage, m, ["database"], dir2, undefined, { databaseAhead: gone, databaseBase: { file: base.file, pieces } });
    expect(sha256(path.join(dir2, DATABASE_ENTRY))).toBe(db.sha256);
    expect(viaBase).toMatchObject({ bytesDecoded: differing, bytesFromBase: db.size - differing });
    const dir3 = path.join(work, "files3");
    const whole = await stageV2Components(engine.storage, m, ["database"], dir3, undefined, { databaseAhead: stageDatabaseAhead(engine.storage, db, path.join(work, "gone2.db"), { file: path.join(work, "missing.db"), pieces }) });
    expect(sha256(path.join(dir3, DATABASE_ENTRY))).toBe(db.sha256);
    expect(whole).toMatchObject({ bytesDecoded: db.size, bytesFromBase: 0 });
  });

  it("decodes the whole database when the base does not hold what its record says (a piece tampered with)", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const db = m.components.database!.files[0]!;
    const base = await stageDb(engine, m);
    // The record says every piece equals the backup's; one byte of a piece taken from the base is not.
    const tampered = path.join(tempDir("tampered-"), "base.db");
    copyFileSync(base.file, tampered);
    const bytes = readFileSync(tampered);
    const at = db.blobs[3]!.size * 3 + 100;
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(tampered, bytes);

    const { file, stats } = await stageDb(engine, m, { file: tampered, pieces: db.blobs });
    expect(sha256(file)).toBe(db.sha256);
    expect(stats).toMatchObject({ filesWritten: 1, bytesDecoded: db.size, bytesFromBase: 0 });
  });

  it("decodes the whole database when the base's size differs from its record, or the base is gone", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const db = m.components.database!.files[0]!;
    const short = path.join(tempDir("short-"), "base.db");
    writeFileSync(short, readFileSync((await stageDb(engine, m)).file).subarray(0, db.size - 4096));
    for (const base of [short, path.join(tempDir("gone-"), "missing.db")]) {
      const { file, stats } = await stageDb(engine, m, { file: base, pieces: db.blobs });
      expect(sha256(file)).toBe(db.sha256);
      expect(stats).toMatchObject({ bytesDecoded: db.size, bytesFromBase: 0 });
    }
  });
});

describe("restore with the pre-restore backup's database snapshot", () => {
  it("restores the backup's rows, decoding only what changed, and takes no second copy of the live database", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const rows = dbContent(crm.db);
    touchSomeRows(crm.db);
    settle(crm.db);

    const out = await runRestore(engine, { backupId: m.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
    expect(dbContent(crm.db)).toEqual(rows);
    const size = m.components.database!.totalSize;
    expect(out.staged!.bytesFromBase).toBeGreaterThan(size / 2);
    expect(out.staged!.bytesDecoded).toBe(size - out.staged!.bytesFromBase);
    expect(hooks.earlyCopies).toBe(0);
    expect(existsSync(path.join(crm.root, ".colab-restore-journal.json"))).toBe(false);
  });

  it("rolls the database back from that snapshot when the restore fails after the database swap", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    touchSomeRows(crm.db);
    settle(crm.db);
    const live = dbContent(crm.db);
    mkdirSync(path.join(crm.root, "uploads/extra"), { recursive: true });
    writeFileSync(path.join(crm.root, "uploads/extra/new.txt"), "not in the backup");

    hooks.failAfterSwap = true;
    const err = await runRestore(engine, { backupId: m.id, components: ["uploads", "database"], confirm: "CONFIRM_RESTORE" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect((err as RestoreError).rolledBack).toBe(true);
    expect(hooks.earlyCopies).toBe(0); // the rollback copy was the pre-restore snapshot
    expect(dbContent(crm.db)).toEqual(live);
    expect(readFileSync(path.join(crm.root, "uploads/extra/new.txt"), "utf8")).toBe("not in the backup");
  });

  it("takes its own rollback copy when the live database was written after the pre-restore backup's identity, and rolls back to that write", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    touchSomeRows(crm.db);
    settle(crm.db);
    // A write between the identity the pre-restore backup records and its snapshot: the snapshot holds it, but the
    // identity no longer matches the live database, so the snapshot must not serve as the rollback copy.
    dbReuseHooks.afterIdentity = () => {
      dbReuseHooks.afterIdentity = undefined;
      const h = new Database(crm.db);
      h.exec("INSERT INTO Bulk (body) VALUES ('written during the restore')");
      h.close();
    };
    hooks.failAfterSwap = true;
    const err = await runRestore(engine, { backupId: m.id, components: ["database"], confirm: "CONFIRM_RESTORE" }).catch((e: unknown) => e);
    expect((err as RestoreError).rolledBack).toBe(true);
    expect(hooks.earlyCopies).toBe(1);
    const h = new Database(crm.db, { readonly: true });
    expect(h.prepare("SELECT count(*) FROM Bulk WHERE body = 'written during the restore'").pluck().get()).toBe(1);
    h.close();
  });
});

describe("rollbackFromSnapshot", () => {
  it("moves the snapshot to the rollback path only while the live identity equals the one recorded before it", async () => {
    const crm = makeCrm();
    settle(crm.db);
    const { takeLiveSource } = await import("../core/v2/db-reuse.ts");
    const before = (await takeLiveSource(crm.db))!;
    const dir = tempDir("rb-snap-");
    const snap = path.join(dir, "pre-restore.db");
    copyFileSync(crm.db, snap);
    expect(await rollbackFromSnapshot(snap, before, crm.db, path.join(dir, "rollback.db")).use()).toBe(true);
    expect(existsSync(path.join(dir, "rollback.db"))).toBe(true);

    copyFileSync(crm.db, snap);
    const h = new Database(crm.db);
    h.exec(`INSERT INTO "Customer" (name) VALUES ('late')`);
    h.close();
    expect(await rollbackFromSnapshot(snap, before, crm.db, path.join(dir, "rollback-2.db")).use()).toBe(false);
    expect(existsSync(snap)).toBe(false);
    expect(existsSync(path.join(dir, "rollback-2.db"))).toBe(false);
  });
});

describe("PackReader.readSparse", () => {
  it("hands over every asked piece checked, whether ranges merge narrowly (local store) or widely (object store), and refuses a damaged one", async () => {
    const crm = makeCrm();
    bulk(crm.db);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const blobs = m.components.database!.files[0]!.blobs;
    const asked = blobs.filter((_, i) => i % 3 === 0 || i === blobs.length - 1);
    // Not an FsStorage: readSparse takes it for an object store and merges ranges across wide gaps.
    const ranges: number[] = [];
    const remote = { get: (key: string, range?: { start: number; end: number }) => (ranges.push(1), engine.storage.get(key, range)) } as unknown as Storage;
    for (const storage of [engine.storage, remote]) {
      const got = new Map<string, string>();
      await new PackReader(storage).readSparse(asked, "database/dev.db", async (ref, plain) => void got.set(ref.sha256, createHash("sha256").update(plain).digest("hex")));
      expect(got.size).toBe(new Set(asked.map((b) => b.sha256)).size);
      for (const [want, have] of got) expect(have).toBe(want);
    }
    // Every third database piece: neighbours in a pack merge into few ranged requests.
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.length).toBeLessThan(asked.length / 2);
    const victim = asked[2]!;
    const pack = path.join(engine.config.backupDir, victim.pack);
    const bytes = readFileSync(pack);
    const at = victim.offset + Math.floor(victim.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(pack, bytes);
    await expect(new PackReader(engine.storage).readSparse(asked, "database/dev.db", async () => {})).rejects.toThrow(/blob|damaged|SHA-256|gzip|header|check/i);
  });
});
