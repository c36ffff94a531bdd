// Format v2 end to end on real files, real SQLite and the fs store: backup, reuse, dedupe, verify, restore, export, v1 beside v2.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { runBackup } from "../core/backup.ts";
import { listBackups, readManifest } from "../core/catalog.ts";
import type { Engine } from "../core/engine.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { verifyBackup } from "../core/verify.ts";
import { BlobStore } from "../core/v2/blob-store.ts";
import { exportStream } from "../core/v2/export.ts";
import { dbContent, makeCrm, makeTestEngine, tempDir, treeDigest } from "./helpers/crm.ts";

const V2 = { BACKUP_FORMAT: "v2" };

async function backup(engine: Engine, type: "manual" | "daily" | "weekly" = "manual"): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

/** Every object in the fs store, work files excluded. */
function storeObjects(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (r === "temp") continue;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, "");
  return out.sort();
}

async function exportTo(engine: Engine, m: StoredManifestV2, file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await exportStream(engine.storage, m)) chunks.push(c as Buffer);
  writeFileSync(file, Buffer.concat(chunks));
  return readFileSync(file);
}

const crmTree = (root: string) => {
  const all = treeDigest(root);
  return Object.fromEntries(Object.entries(all).filter(([p]) => !p.startsWith("prisma/dev.db")));
};

describe("format v2 (BACKUP_FORMAT=v2)", () => {
  it("round-trips every component byte for byte through backup -> restore", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const before = crmTree(crm.root);
    const rows = dbContent(crm.db);
    const m = await backup(engine);
    expect(m.stored.packsAdded).toBeGreaterThan(0);
    expect(readFileSync(path.join(engine.config.backupDir, "RESTORE.txt"), "utf8")).toContain("tail -c +");

    // Damage the live CRM, then restore everything from the v2 backup.
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "changed");
    writeFileSync(path.join(crm.root, "package.json"), "{}");
    writeFileSync(path.join(crm.root, "logs/combined-2026-11-25.log"), "other\n");
    const db = new Database(crm.db);
    db.exec(`DELETE FROM "Deal"`);
    db.close();
    const out = await runRestore(engine, { backupId: m.id, components: ["database", "uploads", "config", "logs"], confirm: "CONFIRM_RESTORE" });
    expect(out.preRestoreBackupId).toMatch(/^pre-restore-/);
    expect(crmTree(crm.root)).toEqual(before);
    expect(dbContent(crm.db)).toEqual(rows);
    // The pre-restore backup is itself v2, and holds the damaged state.
    const pre = await readManifest(engine.storage, out.preRestoreBackupId);
    expect(pre.formatVersion).toBe(2);
  });

  it("exports the standard .tar.gz: manifest first, tar -xzf and sha256sum -c work, and two exports are identical", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const dir = tempDir("export-");
    const a = await exportTo(engine, m, path.join(dir, "a.tar.gz"));
    const b = await exportTo(engine, m, path.join(dir, "b.tar.gz"));
    expect(b.equals(a)).toBe(true);
    const names = execFileSync("tar", ["-tzf", path.join(dir, "a.tar.gz")]).toString().trim().split("\n");
    expect(names.slice(0, 3)).toEqual(["manifest.json", "RESTORE.txt", "database/dev.db"]);
    expect(names).toContain("uploads/deep/nested/b.txt");
    expect(names).toContain("logs/archive/error-2026-10-01.log.gz");
    expect(names.some((n) => n.includes(".env") && !n.endsWith(".env.example"))).toBe(false);
    const out = path.join(dir, "x");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", path.join(dir, "a.tar.gz"), "-C", out]);
    const inner = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8")) as StoredManifestV2;
    const sums = Object.values(inner.components).flatMap((c) => c.files.map((f) => `${f.sha256}  ${f.path}\n`)).join("");
    writeFileSync(path.join(out, "SHA256SUMS"), sums);
    execFileSync("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: out });
    // Every component byte for byte against the live CRM.
    expect(readFileSync(path.join(out, "uploads/media/photo.bin")).equals(readFileSync(path.join(crm.root, "uploads/media/photo.bin")))).toBe(true);
    expect(execFileSync("gunzip", ["-c", path.join(out, "logs/combined-2026-11-25.log.gz")]).equals(readFileSync(path.join(crm.root, "logs/combined-2026-11-25.log")))).toBe(true);
    expect(dbContent(path.join(out, "database/dev.db"))).toEqual(dbContent(crm.db));
    expect(execFileSync("sqlite3", [path.join(out, "database/dev.db"), "PRAGMA integrity_check;"]).toString().trim()).toBe("ok");
  });

  it("stores only the manifest when nothing changed, without opening any file, the database included", async () => {
    const crm = makeCrm();
    // A database written moments ago is snapshotted again (core/v2/db-reuse.ts): make it one nobody wrote to lately.
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(crm.db, old, old);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine);
    const objects = storeObjects(engine.config.backupDir);
    const second = await backup(engine, "daily");
    // Each run also adds its audit record, which is not backup data.
    const added = storeObjects(engine.config.backupDir).filter((o) => !objects.includes(o) && !o.startsWith("audit/"));
    expect(added).toEqual([`daily/${second.id}.json`]);
    const files = ["uploads", "config", "logs"].reduce((n, c) => n + second.components[c]!.fileCount, 0);
    expect(second.stored).toMatchObject({ filesReused: files + 1, filesRead: 0, packsAdded: 0, bytesAdded: 0, previousId: first.id });
    expect(second.components.database).toEqual(first.components.database);
    expect(second.stored.requests).toBeLessThanOrEqual(20);
    // A weekly backup reads everything again (and still adds nothing).
    const weekly = await backup(engine, "weekly");
    expect(weekly.stored).toMatchObject({ filesReused: 0, filesRead: files + 1, packsAdded: 0 });
  });

  it("backs up a copy of the CRM (new inodes) from hashes taken on the compression threads, storing only what changed", async () => {
    const crm = makeCrm();
    const MiB = 1024 * 1024;
    const big = randomBytes(2.5 * MiB);
    writeFileSync(path.join(crm.root, "uploads/big.bin"), big);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine);
    const copy = path.join(tempDir("crm-copy-"), "crm");
    execFileSync("cp", ["-a", crm.root, copy]);
    // Same sizes, other bytes: one MiB in the middle of the big file, and a small file rewritten.
    const changedBig = Buffer.from(big);
    randomBytes(MiB).copy(changedBig, MiB);
    writeFileSync(path.join(copy, "uploads/big.bin"), changedBig);
    writeFileSync(path.join(copy, "uploads/a.txt"), "ALPHA\n");
    const stored = vi.spyOn(BlobStore.prototype, "store");
    let second: StoredManifestV2;
    let readHere: string[];
    try {
      second = await backup(makeTestEngine(copy, engine.config.backupDir, V2));
      readHere = stored.mock.calls.map(([src]) => src.entry).filter((e) => e.startsWith("uploads/"));
    } finally {
      stored.mockRestore();
    }
    // Only the two changed uploads, and the first one (read to tell a copy from an ordinary day), were read on the
    // main thread; the others were recorded from the threads' hashes.
    expect(readHere).toEqual(expect.arrayContaining(["uploads/a.txt", "uploads/big.bin"]));
    expect(readHere.length).toBeLessThanOrEqual(3);
    expect(second!.components.uploads!.fileCount).toBe(6);
    const files = (m: StoredManifestV2) => new Map(m.components.uploads!.files.map((f) => [f.path, f]));
    const [before, after] = [files(first), files(second)];
    expect(after.get("uploads/big.bin")!.sha256).toBe(createHash("sha256").update(changedBig).digest("hex"));
    expect(after.get("uploads/a.txt")!.sha256).toBe(createHash("sha256").update("ALPHA\n").digest("hex"));
    for (const [p, f] of after) {
      if (p === "uploads/a.txt" || p === "uploads/big.bin") continue;
      const { source: _a, ...was } = before.get(p)!;
      const { source: _b, ...now } = f;
      expect(now).toEqual(was);
      expect(f.source!.ino).not.toBe(before.get(p)!.source!.ino);
    }
    // The big file's first and last pieces are the stored ones; only its middle MiB and the small file are new.
    expect(after.get("uploads/big.bin")!.blobs[0]).toEqual(before.get("uploads/big.bin")!.blobs[0]);
    expect(second.stored).toMatchObject({ blobsAdded: 2 });
    expect((await verifyBackup(engine, second.id)).ok).toBe(true);
  });

  it("stores a small fraction of the database when 1% of its rows change", async () => {
    const crm = makeCrm();
    const db = new Database(crm.db);
    const ins = db.prepare(`INSERT INTO "Customer" (name, note) VALUES (?, ?)`);
    // Random notes, so the database does not shrink to nothing under gzip and the fraction below means something.
    db.transaction(() => { for (let i = 0; i < 40_000; i++) ins.run(`customer ${i}`, randomBytes(100).toString("hex")); })();
    db.close();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine);
    const dbStored = first.components.database!.files[0]!.blobs.reduce((n, b) => n + b.length, 0);
    const dbSize = statSync(crm.db).size;
    const live = new Database(crm.db);
    // 1% of the rows, as a CRM changes them: the recently touched customers, plus a few new ones.
    live.exec(`UPDATE "Customer" SET note = note || ' edited' WHERE id BETWEEN 20000 AND 20300`);
    live.exec(`INSERT INTO "Customer" (name, note) SELECT name, note FROM "Customer" WHERE id <= 100`);
    live.close();
    const next = await backup(engine, "daily");
    expect(dbSize).toBeGreaterThan(8 * 1024 * 1024);
    expect(dbStored).toBeGreaterThan(dbSize / 2);
    // Pages keep their positions, so only the pieces holding changed pages (and the header's) are new.
    expect(next.stored.bytesAdded).toBeLessThan(dbStored * 0.25);
    expect(next.stored.bytesAdded).toBeGreaterThan(0);
    expect((await verifyBackup(engine, next.id)).ok).toBe(true);
  });

  it("reports archive progress whose total, once known, never falls below what is done, and ends complete", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const seen: { done: number; total: number }[] = [];
    const out = await runBackup(engine, { type: "manual", onProgress: (p) => void (p.phase === "archive" && seen.push({ done: p.done, total: p.total })) });
    if (out.skipped) throw new Error("unexpected skip");
    expect(seen.length).toBeGreaterThan(1);
    for (const p of seen) if (p.total > 0) expect(p.total).toBeGreaterThanOrEqual(p.done);
    const last = seen.at(-1)!;
    expect(last.total).toBe(last.done);
    expect(last.done).toBeGreaterThan(statSync(crm.db).size);
  });

  it("fails the backup when the snapshot fails integrity_check, though its pieces were read beside the check: no manifest", async () => {
    const crm = makeCrm();
    // An index whose recorded definition no longer matches its entries: the page copy carries it into the snapshot.
    execFileSync("sqlite3", [crm.db, "CREATE INDEX customer_name ON Customer(name)"]);
    execFileSync("sqlite3", [crm.db, "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET sql='CREATE INDEX customer_name ON Customer(note)' WHERE name='customer_name';"]);
    const engine = makeTestEngine(crm.root, undefined, V2);
    await expect(runBackup(engine, { type: "manual" })).rejects.toThrow(/integrity_check of the snapshot .* failed: row 1 missing from index customer_name/);
    expect(await listBackups(engine.storage)).toEqual([]);
  });

  it("detects a flipped bit in a blob: verify fails naming the file, restore refuses and leaves the CRM alone", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const target = m.components.uploads!.files.find((f) => f.path === "uploads/media/photo.bin")!;
    const ref = target.blobs[0]!;
    const pack = path.join(engine.config.backupDir, ref.pack);
    const bytes = readFileSync(pack);
    bytes[ref.offset + Math.floor(ref.length / 2)]! ^= 0x10;
    writeFileSync(pack, bytes);
    const quick = await verifyBackup(engine, m.id, undefined, { quick: true });
    expect(quick.ok).toBe(true); // sizes only: that is what --quick promises
    const report = await verifyBackup(engine, m.id);
    expect(report.ok).toBe(false);
    expect(report.components.uploads!.status).toBe("failed");
    expect(report.components.uploads!.detail).toContain("uploads/media/photo.bin");
    // A restore reads only what differs from the live files: make the damaged file one it must read.
    writeFileSync(path.join(crm.root, "uploads/media/photo.bin"), "changed since the backup");
    const before = crmTree(crm.root);
    await expect(runRestore(engine, { backupId: m.id, components: ["uploads"], confirm: "CONFIRM_RESTORE" })).rejects.toThrow(/uploads\/media\/photo\.bin.*damaged/);
    expect(crmTree(crm.root)).toEqual(before);
  });

  it("refuses a manifest whose blobs name a path outside the component rules", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const planted = structuredClone(m);
    planted.components.config!.files[0]!.path = "config/.env";
    await engine.storage.put(`manual/${m.id}.json`, JSON.stringify(planted));
    await expect(runRestore(engine, { backupId: m.id, components: ["config"], confirm: "CONFIRM_RESTORE" })).rejects.toThrow(/config\/\.env/);
    expect((await verifyBackup(engine, m.id)).ok).toBe(false);
  });

  it("keeps v1 and v2 backups side by side: both listed, verified, restored and exported", async () => {
    const crm = makeCrm();
    const store = tempDir("store-");
    const v1 = makeTestEngine(crm.root, store, { BACKUP_FORMAT: "v1" });
    const v2 = makeTestEngine(crm.root, store, V2);
    const one = await runBackup(v1, { type: "daily" });
    const two = await backup(v2, "daily");
    if (one.skipped) throw new Error("unexpected skip");
    const listed = await listBackups(v2.storage);
    expect(listed.map((b) => [b.id, b.formatVersion]).sort()).toEqual([[one.manifest.id, 1], [two.id, 2]].sort());
    for (const b of listed) expect((await verifyBackup(v2, b.id)).ok).toBe(true);
    const before = crmTree(crm.root);
    for (const id of [one.manifest.id, two.id]) {
      writeFileSync(path.join(crm.root, "uploads/a.txt"), `changed before restoring ${id}`);
      await runRestore(v2, { backupId: id, components: ["uploads"], confirm: "CONFIRM_RESTORE" });
      expect(crmTree(crm.root)).toEqual(before);
    }
    const v1Export: Buffer[] = [];
    for await (const c of await exportStream(v2.storage, one.manifest)) v1Export.push(c as Buffer);
    expect(Buffer.concat(v1Export).equals(readFileSync(path.join(store, `daily/${one.manifest.id}.tar.gz`)))).toBe(true);
  });
});
