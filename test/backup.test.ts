// Backups of a real CRM folder: archive layout, manifest facts, standard-tool compatibility, pending markers and leftovers, slots and the lock.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup, createBackup } from "../core/backup.ts";
import { listBackups, readAudit, readManifest } from "../core/catalog.ts";
import { ConflictError } from "../core/errors.ts";
import { LOCK_KEY, archiveKey, pendingKey } from "../core/ids.ts";
import { acquireLock } from "../core/lock.ts";
import { verifyBackup } from "../core/verify.ts";
import { makeCrm, makeTestEngine, tempDir, treeDigest } from "./helpers/crm.ts";

describe("backup of a CRM folder", () => {
  // v1 archives (BACKUP_FORMAT=v1); a v2 backup's export is checked the same way in test/v2-store.test.ts.
  it("writes a verified archive that plain tar opens, with the manifest first and no secrets", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v1" });
    const out = await runBackup(engine, { type: "manual", description: "before upgrade" });
    if (out.skipped) throw new Error("unexpected skip");
    const m = out.manifest;
    if (m.formatVersion !== 1) throw new Error("expected a format 1 (tar.gz) backup");
    const archive = path.join(engine.config.backupDir, "manual", `${m.id}.tar.gz`);
    expect(existsSync(archive)).toBe(true);
    expect(existsSync(path.join(engine.config.backupDir, "manual", `${m.id}.json`))).toBe(true);
    const sha = execFileSync("sha256sum", [archive]).toString().split(" ")[0];
    expect(m.archive.sha256).toBe(sha);
    expect(m.archive.sizeBytes).toBe(readFileSync(archive).length);

    const names = execFileSync("tar", ["-tzf", archive]).toString().trim().split("\n");
    expect(names[0]).toBe("manifest.json");
    expect(names[1]).toBe("RESTORE.txt");
    expect(names).toContain("database/dev.db");
    expect(names).toContain("uploads/deep/nested/b.txt");
    expect(names).toContain("config/.env.example");
    expect(names).toContain("logs/archive/error-2026-10-01.log.gz");
    expect(names.filter((n) => /(^|\/)\.env($|\.(?!example))/.test(n))).toEqual([]);
    expect(names).not.toContain("logs/not-a-log.txt");

    const out2 = tempDir("untar-");
    execFileSync("tar", ["-xzf", archive, "-C", out2]);
    const uploads = treeDigest(path.join(out2, "uploads"));
    expect(uploads).toEqual(treeDigest(path.join(crm.root, "uploads")));
    expect(execFileSync("sqlite3", [path.join(out2, "database/dev.db"), "PRAGMA integrity_check; SELECT count(*) FROM Customer;"]).toString()).toBe("ok\n500\n");
    expect(execFileSync("gunzip", ["-c", path.join(out2, "logs/combined-2026-11-25.log.gz")]).toString()).toBe("line\n".repeat(5000));
    expect(readFileSync(path.join(out2, "RESTORE.txt"), "utf8")).toMatch(/sha256sum[\s\S]*tar -xzf[\s\S]*sqlite3/);

    const inner = JSON.parse(readFileSync(path.join(out2, "manifest.json"), "utf8"));
    expect(inner.id).toBe(m.id);
    expect(inner.archive).toBeUndefined();
    expect(m.description).toBe("before upgrade");
    expect(m.components.database?.database).toMatchObject({ integrityCheck: "ok", journalMode: "wal", tables: { Customer: 500, Deal: 500 } });
    expect(m.components.uploads).toMatchObject({ status: "included", fileCount: 5 });
    expect(m.components.uploads!.files.find((f) => f.path === "uploads/a.txt")).toMatchObject({ mode: 0o600, size: 6 });
    expect(m.components.logs!.files.find((f) => f.path === "logs/combined-2026-11-25.log.gz")?.originalSize).toBe(25_000);
    expect(m.components.config!.files.map((f) => f.path).sort()).toEqual(["config/.env.example", "config/package-lock.json", "config/package.json", "config/prisma/schema.prisma"]);

    const report = await verifyBackup(engine, m.id);
    expect(report.ok).toBe(true);
    expect(report.components.database?.status).toBe("ok");
    expect(existsSync(path.join(engine.workRoot, `work-${m.id}`))).toBe(false);
  });

  it("records a missing logs folder and fails on a missing database", async () => {
    const crm = makeCrm();
    rmSync(path.join(crm.root, "logs"), { recursive: true });
    const engine = makeTestEngine(crm.root);
    const out = await runBackup(engine, { type: "daily" });
    expect(!out.skipped && out.manifest.components.logs).toMatchObject({ status: "missing", note: expect.stringContaining("no logs folder") });
    rmSync(crm.db);
    await expect(runBackup(engine, { type: "daily" })).rejects.toThrow(/does not exist.*DATABASE_PATH or CRM_ROOT/);
    expect((await listBackups(engine.storage)).length).toBe(1);
  });

  it("backs up only the chosen components", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const out = await runBackup(engine, { type: "manual", components: ["uploads"] });
    expect(!out.skipped && Object.keys(out.manifest.components)).toEqual(["uploads"]);
  });

  it("removes a killed run's archive (it has a pending marker) but keeps an orphan archive it knows nothing about", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root);
    // A run killed while storing its archive: the marker it wrote first says so.
    const killed = "daily-20261101T020000Z-abcdef";
    mkdirSync(path.join(engine.config.backupDir, "daily"), { recursive: true });
    const partial = path.join(engine.config.backupDir, archiveKey(killed));
    writeFileSync(partial, "half an archive");
    await engine.storage.put(pendingKey(killed), JSON.stringify({ id: killed, startedAt: "2026-11-01T02:00:00.000Z", pid: 4242, host: "crm-host" }));
    // An intact archive whose manifest was lost: nobody can tell it is a leftover, so it stays.
    const orphan = path.join(engine.config.backupDir, "daily", "daily-20261001T020000Z-123456.tar.gz");
    writeFileSync(orphan, "an archive that lost its manifest");
    // ...and a work folder (a database snapshot) from two days ago.
    const staleWork = path.join(engine.workRoot, "work-daily-20261101T020000Z-abcdef");
    mkdirSync(staleWork);
    writeFileSync(path.join(staleWork, "dev.db"), "snapshot");
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(staleWork, twoDaysAgo, twoDaysAgo);
    expect(await listBackups(engine.storage)).toEqual([]);
    const out = await runBackup(engine, { type: "daily", actor: "test" });
    expect(existsSync(partial)).toBe(false);
    expect(await engine.storage.stat(pendingKey(killed))).toBeNull();
    expect(existsSync(orphan)).toBe(true);
    expect(existsSync(staleWork)).toBe(false);
    expect((await listBackups(engine.storage)).length).toBe(1);
    // The run's own marker is gone once its manifest is written.
    expect(await engine.storage.list("pending/")).toEqual([]);
    const audit = await readAudit(engine.storage);
    expect(audit.find((a) => a.backupId === killed)).toMatchObject({
      action: "cleanup", actor: "test", result: "succeeded",
      detail: { leftover: "incomplete", message: `removed the incomplete archive of interrupted backup ${killed}`, pid: 4242 },
    });
    expect(!out.skipped && out.manifest.id).not.toBe(killed);
  });

  it("writes its pending marker before the archive and removes both when storing fails (v1)", async () => {
    const engine = makeTestEngine(makeCrm().root, undefined, { BACKUP_FORMAT: "v1" });
    const real = engine.storage;
    let markerSeenAtPut: unknown = "not called";
    // A real store whose archive upload fails after reading the stream, like a disk filling up mid-write.
    const failing = Object.create(real) as typeof real;
    failing.put = async (key, body) => {
      if (!key.endsWith(".tar.gz")) return real.put(key, body);
      markerSeenAtPut = (await real.list("pending/")).map((o) => o.key);
      await real.put(key, body);
      throw new Error("ENOSPC: no space left on device (injected)");
    };
    const e = { ...engine, storage: failing };
    await expect(runBackup(e, { type: "manual" })).rejects.toThrow(/ENOSPC/);
    expect(markerSeenAtPut).toEqual([expect.stringMatching(/^pending\/manual-\d{8}T\d{6}Z-[0-9a-f]{6}\.json$/)]);
    expect(await real.list("pending/")).toEqual([]);
    expect(await real.list("manual/")).toEqual([]);
  });

  it("lists nothing when a v2 pack fails to store, and the next backup stores the data again", async () => {
    const engine = makeTestEngine(makeCrm().root, undefined, { BACKUP_FORMAT: "v2" });
    const real = engine.storage;
    let packPuts = 0;
    const failing = Object.create(real) as typeof real;
    failing.put = async (key, body, opts) => {
      if (!key.startsWith("data/packs/")) return real.put(key, body, opts);
      packPuts++;
      throw new Error("ENOSPC: no space left on device (injected)");
    };
    await expect(runBackup({ ...engine, storage: failing }, { type: "manual" })).rejects.toThrow(/ENOSPC/);
    expect(packPuts).toBeGreaterThan(0);
    expect(await listBackups(real)).toEqual([]);
    const next = await runBackup(engine, { type: "manual" });
    if (next.skipped || next.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    expect(next.manifest.stored.bytesAdded).toBeGreaterThan(0);
    expect((await verifyBackup(engine, next.manifest.id)).ok).toBe(true);
  });

  it.each(["v2", "v1"] as const)("retries once under the same id when a file changes while it is read (%s)", async (format) => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: format });
    const big = path.join(crm.root, "uploads/big.bin");
    writeFileSync(big, Buffer.alloc(3 * 1024 * 1024, 7));
    let truncated = false;
    const out = await runBackup(engine, {
      type: "manual", id: "manual-20261129T120000Z-abcdef",
      onProgress: (p) => {
        // The first time bytes are archived, the CRM rewrites the big file shorter: the attempt must fail and retry.
        if (!truncated && p.phase === "archive" && p.done > 0) {
          truncated = true;
          writeFileSync(big, "short now");
        }
      },
    });
    expect(truncated).toBe(true);
    if (out.skipped) throw new Error("unexpected skip");
    expect(out.manifest.id).toBe("manual-20261129T120000Z-abcdef");
    expect(out.manifest.components.uploads!.files.find((f) => f.path === "uploads/big.bin")!.size).toBe(9);
    expect((await listBackups(engine.storage)).map((b) => b.id)).toEqual(["manual-20261129T120000Z-abcdef"]);
    expect((await verifyBackup(engine, out.manifest.id)).ok).toBe(true);
  });

  it("makes one backup per scheduled slot", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const at = new Date("2026-11-26T02:00:00Z");
    const first = await runBackup(engine, { type: "daily", scheduledAt: at });
    const second = await runBackup(engine, { type: "daily", scheduledAt: at });
    expect(first.skipped).toBe(false);
    expect(second).toMatchObject({ skipped: true, existingId: !first.skipped && first.manifest.id });
    expect((await listBackups(engine.storage, "daily")).length).toBe(1);
    const other = await runBackup(engine, { type: "daily", scheduledAt: new Date("2026-11-27T02:00:00Z") });
    expect(other.skipped).toBe(false);
  });

  it("runs one operation at a time per store", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const held = await acquireLock(engine.storage, LOCK_KEY, { id: "other", operation: "restore" });
    await expect(runBackup(engine, { type: "manual" })).rejects.toBeInstanceOf(ConflictError);
    await held.release();
    const [a, b] = await Promise.allSettled([runBackup(engine, { type: "manual" }), runBackup(engine, { type: "manual" })]);
    const results = [a, b].map((r) => r.status);
    expect(results.sort()).toEqual(["fulfilled", "rejected"]);
    expect([a, b].find((r) => r.status === "rejected")).toMatchObject({ reason: expect.any(ConflictError) });
  });

  it("stores the manifest beside the archive with the fields other tools read", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const out = await createBackup(engine, { type: "weekly" });
    if (out.skipped) throw new Error("unexpected skip");
    const m = await readManifest(engine.storage, out.manifest.id);
    for (const field of ["formatVersion", "id", "type", "description", "createdAt", "components"]) expect(m).toHaveProperty(field);
    // v2 (the default) records what the backup references and added instead of one archive's size and hash.
    if (m.formatVersion !== 2) throw new Error("expected a v2 backup, the default");
    expect(m.stored).toMatchObject({ referencedBytes: expect.any(Number), bytesAdded: expect.any(Number), verifiedAt: expect.any(String) });
    for (const f of m.components.uploads!.files) expect(f.blobs.length).toBe(f.size === 0 ? 0 : Math.ceil(f.size / (1024 * 1024)));
    for (const f of m.components.uploads!.files) expect(f).toMatchObject({ path: expect.any(String), size: expect.any(Number), sha256: expect.any(String), mode: expect.any(Number) });
  });
});
