// Database pieces stored as page patches over several backups: every backup restores, verifies, exports and survives gc.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import { deleteBackup } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import { DATABASE_ENTRY, type BlobRef, type StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { DB_CHUNK_SIZE } from "../core/v2/blob-codec.ts";
import { checkPatches } from "../core/v2/db-pieces.ts";
import { exportStream } from "../core/v2/export.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { verifyBackup } from "../core/verify.ts";
import { changeNotes, growNotes } from "./helpers/notes-db.ts";
import { dbContent, makeCrm, makeTestEngine, tempDir } from "./helpers/crm.ts";

const V2 = { BACKUP_FORMAT: "v2" };
const later = (engine: Engine): Engine => ({ ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) });

async function backup(engine: Engine, type: "manual" | "daily" = "daily"): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

const dbFile = (m: StoredManifestV2) => m.components.database!.files.find((f) => f.path === DATABASE_ENTRY)!;
const patched = (m: StoredManifestV2): BlobRef[] => dbFile(m).blobs.filter((b) => (b.patches?.length ?? 0) > 0);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function exportBytes(engine: Engine, m: StoredManifestV2): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await exportStream(engine.storage, m)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("v2 database pieces as page patches", () => {
  it("stores few changed pages as patches, and every backup of the series restores, verifies and exports its own database", { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    growNotes(crm);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const series: { m: StoredManifestV2; rows: ReturnType<typeof dbContent>; sha: string }[] = [];
    const take = async (type: "manual" | "daily" = "daily") => {
      const m = await backup(engine, type);
      series.push({ m, rows: dbContent(crm.db), sha: dbFile(m).sha256 });
      return m;
    };
    const first = await take("manual");
    expect(patched(first)).toEqual([]);
    // Day 1: three rows far apart; day 2: one of them again and a new one; day 3: the same page back and a run of rows.
    changeNotes(crm, 1, [100, 1500, 2900]);
    const day1 = await take();
    changeNotes(crm, 2, [1500, 2000]);
    const day2 = await take();
    changeNotes(crm, 3, [100, ...Array.from({ length: 120 }, (_, i) => 600 + i)]);
    const day3 = await take();

    expect(patched(day1).length).toBeGreaterThanOrEqual(2);
    // The stored (compact) manifest keeps every patch: bundles name their pack by index, and read back as written.
    const json = gunzipSync(readFileSync(path.join(engine.config.backupDir, `daily/${day2.id}.json`))).toString();
    expect(json).toMatch(/"bundle": \{[^}]*"pack": \d+/);
    expect(dbFile((await readManifest(engine.storage, day2.id)) as StoredManifestV2).blobs).toEqual(dbFile(day2).blobs);
    for (const m of [day1, day2, day3]) for (const b of patched(m)) {
      checkPatches(b, DATABASE_ENTRY);
      expect(new Set(b.patches!.map((p) => p.at)).size).toBeLessThanOrEqual(4);
      expect(b.base).not.toBe(b.sha256);
    }
    // A page patched on day 1 and unchanged since keeps its patch (same bundle); the run of rows was stored whole.
    const p1 = new Map(patched(day1).map((b) => [b.offset + ":" + b.pack, b]));
    const kept = patched(day2).flatMap((b) => b.patches!.filter((p) => p1.get(b.offset + ":" + b.pack)?.patches!.some((q) => JSON.stringify(q) === JSON.stringify(p))));
    expect(kept.length).toBeGreaterThan(0);
    // A day of a few pages adds far less than the pieces they sit in.
    expect(day1.stored.bytesAdded).toBeLessThan(dbFile(first).blobs.slice(0, 3).reduce((n, b) => n + b.length, 0));

    // Every backup restores its own rows (staging checks the file's SHA-256), verifies (integrity_check on the
    // assembled file), and exports the same bytes twice with its snapshot, byte for byte, as database/dev.db.
    for (const { m, rows, sha } of [...series].reverse()) {
      await runRestore(engine, { backupId: m.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
      expect(dbContent(crm.db)).toEqual(rows);
      expect((await verifyBackup(engine, m.id)).ok).toBe(true);
      const a = await exportBytes(engine, m);
      expect((await exportBytes(engine, m)).equals(a)).toBe(true);
      const dir = tempDir("patch-export-");
      writeFileSync(path.join(dir, "a.tar.gz"), a);
      execFileSync("tar", ["-xzf", "a.tar.gz", DATABASE_ENTRY], { cwd: dir });
      expect(sha256(readFileSync(path.join(dir, DATABASE_ENTRY)))).toBe(sha);
    }

    // gc: day 1 and 2 deleted, day 3 still reads pages from their bundles, so their packs stay where day 3 needs them.
    await deleteBackup(later(engine), day1.id, "test");
    await deleteBackup(later(engine), day2.id, "test");
    const m3 = (await readManifest(engine.storage, day3.id)) as StoredManifestV2;
    expect(patched(m3).some((b) => b.patches!.some((p) => !dbFile(day3).blobs.some((x) => x.pack === p.bundle.pack && !x.patches)))).toBe(true);
    expect((await verifyBackup(engine, day3.id)).ok).toBe(true);
    await runRestore(engine, { backupId: day3.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
    expect(dbContent(crm.db)).toEqual(series[3]!.rows);
  });

  it("a page changed day after day is patched against its previous version (a chain), and every day restores and verifies", { timeout: 120_000 }, async () => {
    // Rows of 200 random hex characters, updated in place with others of the same length: each day changes one more
    // row of the same pages, so against yesterday's page a patch holds one row, against the base all of them.
    const crm = makeCrm();
    const db = new Database(crm.db);
    db.exec(`CREATE TABLE "Row" (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
    const ins = db.prepare(`INSERT INTO "Row" (body) VALUES (?)`);
    const hex = () => randomBytes(100).toString("hex");
    db.transaction(() => {
      for (let i = 1; i <= 2000; i++) ins.run(hex());
    })();
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const series = [{ m: await backup(engine, "manual"), rows: dbContent(crm.db) }];
    for (let day = 1; day <= 4; day++) {
      const w = new Database(crm.db);
      const up = w.prepare(`UPDATE "Row" SET body = ? WHERE id = ?`);
      w.transaction(() => {
        for (const id of [500, 1500]) up.run(hex(), id + day);
      })();
      w.pragma("wal_checkpoint(TRUNCATE)");
      w.close();
      series.push({ m: await backup(engine), rows: dbContent(crm.db) });
    }
    const last = series.at(-1)!.m;
    const chains = patched(last).map((b) => Math.max(...[...new Set(b.patches!.map((p) => p.at))].map((at) => b.patches!.filter((p) => p.at === at).length)));
    expect(Math.max(...chains)).toBeGreaterThanOrEqual(3);
    // Each day added one short link per changed page, not the page against its base again.
    const links = patched(last).flatMap((b) => b.patches!);
    const lastDay = links.filter((p) => !patched(series.at(-2)!.m).some((b) => b.patches!.some((q) => JSON.stringify(q) === JSON.stringify(p))));
    const firstDay = patched(series[1]!.m).flatMap((b) => b.patches!);
    expect(lastDay.reduce((n, p) => n + p.length, 0)).toBeLessThan(1.5 * firstDay.reduce((n, p) => n + p.length, 0));
    for (const { m, rows } of [...series].reverse()) {
      await runRestore(engine, { backupId: m.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
      expect(dbContent(crm.db)).toEqual(rows);
      expect((await verifyBackup(engine, m.id)).ok).toBe(true);
    }
  });

  it("a day of hundreds of tiny page changes (each in its own piece) completes and restores", { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    const db = new Database(crm.db);
    db.exec(`CREATE TABLE "Row" (id INTEGER PRIMARY KEY, flag TEXT NOT NULL, body TEXT NOT NULL)`);
    const ins = db.prepare(`INSERT INTO "Row" (flag, body) VALUES ('a', ?)`);
    // ~3 KB: one row a 4 KiB page, 400 pieces of them.
    const pagesPerPiece = DB_CHUNK_SIZE / 4096;
    db.transaction(() => {
      for (let i = 1; i <= 400 * pagesPerPiece; i++) ins.run(`row ${i} `.repeat(330));
    })();
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    const engine = makeTestEngine(crm.root, undefined, V2);
    await backup(engine, "manual");
    // One byte of one row in one page of every piece: ~400 pieces each with one page that deflates to a few bytes.
    const w = new Database(crm.db);
    w.exec(`UPDATE "Row" SET flag = 'b' WHERE id % ${pagesPerPiece} = 0`);
    w.pragma("wal_checkpoint(TRUNCATE)");
    w.close();
    const day1 = await backup(engine);
    expect(patched(day1).length).toBeGreaterThan(300);
    const rows = dbContent(crm.db);
    await runRestore(engine, { backupId: day1.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
    expect(dbContent(crm.db)).toEqual(rows);
  });

  it("verify, restore and export refuse a flipped byte in a page bundle, and a patch outside its piece", { timeout: 60_000 }, async () => {
    const crm = makeCrm();
    growNotes(crm);
    const engine = makeTestEngine(crm.root, undefined, V2);
    await backup(engine, "manual");
    changeNotes(crm, 1, [100, 1500]);
    const day1 = await backup(engine);
    const bundle = patched(day1)[0]!.patches![0]!.bundle;
    const file = path.join(engine.config.backupDir, bundle.pack);
    const bytes = readFileSync(file);
    bytes[bundle.offset + Math.floor(bundle.length / 2)]! ^= 0xff;
    writeFileSync(file, bytes);
    const report = await verifyBackup(engine, day1.id);
    expect(report.ok).toBe(false);
    expect(report.components.database!.status).toBe("failed");
    expect(report.components.database!.detail).toMatch(/damaged/);
    await expect(exportBytes(engine, day1)).rejects.toThrow(/damaged/);
    // A restore writes only what differs from the live database: change the patched rows again so it needs the bundle.
    changeNotes(crm, 2, [100, 1500]);
    await expect(runRestore(engine, { backupId: day1.id, components: ["database"], confirm: "CONFIRM_RESTORE" })).rejects.toThrow(/damaged/);

    // Quick verify (presence and sizes only) counts the bundles too: a bundle's pack cut short fails it.
    truncateSync(file, bundle.offset);
    const quick = await verifyBackup(engine, day1.id, undefined, { quick: true });
    expect(quick.components.database!.status).toBe("failed");
    expect(quick.components.database!.detail).toMatch(/the piece needs/);

    const ref = patched(day1)[0]!;
    expect(() => checkPatches({ ...ref, patches: [{ ...ref.patches![0]!, at: ref.size }] }, DATABASE_ENTRY)).toThrow(/not a whole page inside/);
    expect(() => checkPatches({ ...ref, patches: [{ ...ref.patches![0]!, at: 100 }] }, DATABASE_ENTRY)).toThrow(/not a whole page inside/);
    expect(() => checkPatches({ ...ref, patches: [{ ...ref.patches![0]!, from: ref.patches![0]!.bundle.size }] }, DATABASE_ENTRY)).toThrow(/of a \d+-byte bundle/);
    expect(() => checkPatches({ ...ref, patches: [{ ...ref.patches![0]!, size: 3000 }] }, DATABASE_ENTRY)).toThrow(/is not a page/);
    expect(() => checkPatches({ ...ref, patches: Array.from({ length: 33 }, () => ref.patches![0]!) }, DATABASE_ENTRY)).toThrow(/patched more than 32 times/);
  });
});
