// Repacking on S3 (LocalStack): cleanup copies the used blobs of a mostly unused pack into a new S3-checked pack, replaces the manifest, and a later cleanup deletes the old pack.
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import { deleteBackup, runCleanup } from "../core/cleanup.ts";
import { loadConfig } from "../core/config.ts";
import { makeEngine } from "../core/engine.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { PACK_GRACE_MS, REPACKED_PREFIX } from "../core/v2/gc.ts";
import { verifyBackup } from "../core/verify.ts";
import { s3TestPrefix } from "./localstack/s3-test-prefix.ts";
import { makeCrm, tempDir, treeDigest } from "./helpers/crm.ts";

const { ls, admin, prefix } = s3TestPrefix("v2-repack");

describe("repacking on S3", () => {
  it("rewrites a mostly unused pack, points the manifest at the copy, and a cleanup after the grace deletes the old pack", { timeout: 240_000 }, async () => {
    const crm = makeCrm();
    const storage = new S3Storage({ bucket: ls.bucket, prefix, region: ls.region, endpoint: ls.endpoint });
    const engine = makeEngine({ config: loadConfig({ CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" }), storage, workRoot: tempDir("work-") });
    const later = { ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) };
    const packsOf = (m: StoredManifestV2) => new Set(Object.values(m.components).flatMap((c) => c.files.flatMap((f) => f.blobs.map((b) => b.pack))));
    const listPacks = async () => new Map((await storage.list("data/packs/")).map((o) => [o.key, o.size]));
    const v2 = async () => {
      const out = await runBackup(engine, { type: "manual" });
      if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
      return out.manifest;
    };
    await v2();
    for (let i = 1; i <= 6; i++) writeFileSync(`${crm.root}/uploads/big${i}.bin`, randomBytes(300_000));
    const second = await v2();
    for (let i = 1; i <= 5; i++) rmSync(`${crm.root}/uploads/big${i}.bin`);
    const third = await v2();
    const tree = treeDigest(`${crm.root}/uploads`);
    const wasteful = third.components.uploads!.files.find((f) => f.path === "uploads/big6.bin")!.blobs[0]!.pack;
    await deleteBackup(later, second.id, "test");
    const wastefulSize = (await listPacks()).get(wasteful)!;

    const dry = await runCleanup(later, { dryRun: true });
    expect(dry.repack.packsRepacked).toContain(wasteful);
    expect(dry.repack.freeableBytes).toBeGreaterThanOrEqual(5 * 300_000);
    const real = await runCleanup(later, { actor: "test" });
    expect(real.repack).toMatchObject({ blockedBy: null, freeableBytes: dry.repack.freeableBytes, failures: [] });
    expect(real.repack.manifestsRewritten).toBeGreaterThanOrEqual(1);
    expect(packsOf((await readManifest(storage, third.id)) as StoredManifestV2).has(wasteful)).toBe(false);
    expect((await listPacks()).has(wasteful)).toBe(true);
    expect((await storage.list(REPACKED_PREFIX)).length).toBe(1);

    const past = await runCleanup(later, { actor: "test" });
    expect(past.packs.packsRemoved).toContain(wasteful);
    expect(past.packs.freedBytes).toBeGreaterThanOrEqual(wastefulSize);
    expect(await storage.list(REPACKED_PREFIX)).toEqual([]);
    expect((await verifyBackup(engine, third.id)).ok).toBe(true);
    rmSync(`${crm.root}/uploads/big6.bin`);
    await runRestore(engine, { backupId: third.id, components: ["uploads"], confirm: "CONFIRM_RESTORE" });
    expect(treeDigest(`${crm.root}/uploads`)).toEqual(tree);
    storage.close();
  });
});
