// Format v2 on S3 (LocalStack) through core/storage/s3-storage.ts: S3 checks each pack's SHA-256, few requests when nothing changed, GC.
import { randomBytes } from "node:crypto";
import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { loadConfig } from "../core/config.ts";
import { makeEngine } from "../core/engine.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { deleteBackup, runCleanup } from "../core/cleanup.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { verifyBackup } from "../core/verify.ts";
import { s3TestPrefix } from "./localstack/s3-test-prefix.ts";
import { dbContent, makeCrm, tempDir, treeDigest } from "./helpers/crm.ts";

const { ls, admin, prefix } = s3TestPrefix("v2");

describe("format v2 on S3", () => {
  it("stores changed database pages as patches, reading the previous pieces back by range, and restores them", async () => {
    const crm = makeCrm();
    const db = new Database(crm.db);
    db.exec(`CREATE TABLE "Note" (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
    const ins = db.prepare(`INSERT INTO "Note" (body) VALUES (?)`);
    db.transaction(() => { for (let i = 1; i <= 2000; i++) ins.run(`note ${i} `.repeat(30)); })();
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    const storage = new S3Storage({ bucket: ls.bucket, prefix: `${prefix}patches/`, region: ls.region, endpoint: ls.endpoint });
    const engine = makeEngine({ config: loadConfig({ CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" }), storage, workRoot: tempDir("work-") });
    await runBackup(engine, { type: "manual" });
    const w = new Database(crm.db);
    w.prepare(`UPDATE "Note" SET body = 'changed' WHERE id IN (100, 1900)`).run();
    w.pragma("wal_checkpoint(TRUNCATE)");
    w.close();
    const rows = dbContent(crm.db);
    const day = await runBackup(engine, { type: "daily" });
    if (day.skipped || day.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    expect(day.manifest.components.database!.files[0]!.blobs.filter((b) => (b.patches?.length ?? 0) > 0).length).toBeGreaterThanOrEqual(2);
    expect((await verifyBackup(engine, day.manifest.id)).ok).toBe(true);
    const gone = new Database(crm.db);
    gone.exec(`DELETE FROM "Note" WHERE id > 10`);
    gone.close();
    await runRestore(engine, { backupId: day.manifest.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
    expect(dbContent(crm.db)).toEqual(rows);
  });

  it("backs up with S3-checked packs, stores only the manifest when nothing changed, verifies and restores", async () => {
    const crm = makeCrm();
    const storage = new S3Storage({ bucket: ls.bucket, prefix, region: ls.region, endpoint: ls.endpoint });
    const config = loadConfig({ CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" });
    const engine = makeEngine({ config, storage, workRoot: tempDir("work-") });
    expect(storage.validatesChecksums).toBe(true);

    const first = await runBackup(engine, { type: "manual" });
    if (first.skipped || first.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    const packs = (await storage.list("data/packs/")).map((o) => o.key);
    expect(packs.length).toBe(first.manifest.stored.packsAdded);
    // S3 kept the SHA-256 we sent (it refused the put otherwise): the pack's name is that hash.
    const head = await admin.send(new HeadObjectCommand({ Bucket: ls.bucket, Key: prefix + packs[0], ChecksumMode: "ENABLED" }));
    const name = /([0-9a-f]{64})\.pack$/.exec(packs[0]!)![1]!;
    expect(head.ChecksumSHA256).toBe(Buffer.from(name, "hex").toString("base64"));
    // A body that does not match the SHA-256 sent is refused by S3, and nothing is stored.
    await expect(storage.put("data/packs/bad.pack", Buffer.from("not this"), { sha256: name })).rejects.toThrow();
    expect(await storage.stat("data/packs/bad.pack")).toBeNull();

    const before = (await storage.list("")).map((o) => o.key);
    // A database written since (its mtime moved) is snapshotted again: filesRead counts it, whatever the clock says.
    utimesSync(crm.db, new Date(), new Date());
    const second = await runBackup(engine, { type: "daily" });
    if (second.skipped || second.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    const m: StoredManifestV2 = second.manifest;
    const added = (await storage.list("")).map((o) => o.key).filter((k) => !before.includes(k) && !k.startsWith("locks/") && !k.startsWith("audit/"));
    expect(added).toEqual([`daily/${m.id}.json`]);
    expect(m.stored).toMatchObject({ packsAdded: 0, bytesAdded: 0, filesRead: 1 });
    expect(m.stored.requests).toBeLessThanOrEqual(20);

    expect((await verifyBackup(engine, m.id)).ok).toBe(true);
    const tree = treeDigest(crm.root);
    const rows = dbContent(crm.db);
    writeFileSync(`${crm.root}/uploads/a.txt`, "changed");
    await runRestore(engine, { backupId: m.id, components: ["uploads", "database"], confirm: "CONFIRM_RESTORE" });
    expect(treeDigest(crm.root)["uploads/a.txt"]).toEqual(tree["uploads/a.txt"]);
    expect(dbContent(crm.db)).toEqual(rows);
    storage.close();
  });

  it("garbage collection deletes the S3 packs only a deleted backup used; the rest verify and restore byte for byte", async () => {
    const crm = makeCrm();
    const storage = new S3Storage({ bucket: ls.bucket, prefix: `${prefix}gc/`, region: ls.region, endpoint: ls.endpoint });
    const config = loadConfig({ CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" });
    const engine = makeEngine({ config, storage, workRoot: tempDir("work-") });
    const later = { ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) };
    const packsOf = (m: StoredManifestV2) => new Set(Object.values(m.components).flatMap((c) => c.files.flatMap((f) => f.blobs.map((b) => b.pack))));
    const listPacks = async () => new Map((await storage.list("data/packs/")).map((o) => [o.key, o.size]));
    const v2 = async () => {
      const out = await runBackup(engine, { type: "manual" });
      if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
      return out.manifest;
    };
    const tree = treeDigest(crm.root);
    const first = await v2();
    writeFileSync(`${crm.root}/uploads/new.bin`, randomBytes(300_000));
    const second = await v2();
    const added = [...packsOf(second)].filter((p) => !packsOf(first).has(p));
    expect(added.length).toBeGreaterThan(0);
    const sizes = await listPacks();

    // Just written: inside the grace period, so delete takes the manifest and leaves the packs.
    expect((await deleteBackup(engine, second.id, "test")).freedBytes).toBe(0);
    expect((await listPacks()).size).toBe(sizes.size);
    const dry = await runCleanup(later, { dryRun: true });
    const addedBytes = added.reduce((n, p) => n + sizes.get(p)!, 0);
    expect(dry.packs.freedBytes).toBe(addedBytes);
    const real = await runCleanup(later, { actor: "test" });
    expect(real.packs.freedBytes).toBe(addedBytes);
    expect([...(await listPacks()).keys()].sort()).toEqual([...packsOf(first)].sort());

    expect((await verifyBackup(engine, first.id)).ok).toBe(true);
    const photo = readFileSync(`${crm.root}/uploads/media/photo.bin`);
    writeFileSync(`${crm.root}/uploads/media/photo.bin`, "changed");
    await runRestore(engine, { backupId: first.id, components: ["uploads"], confirm: "CONFIRM_RESTORE" });
    const restored = treeDigest(crm.root);
    for (const p of Object.keys(tree).filter((k) => k.startsWith("uploads/"))) expect(restored[p]).toEqual(tree[p]);
    expect(restored["uploads/new.bin"]).toBeUndefined();
    expect(readFileSync(`${crm.root}/uploads/media/photo.bin`).equals(photo)).toBe(true);
    storage.close();
  });
});
