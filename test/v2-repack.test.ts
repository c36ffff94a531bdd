// Repacking on real files, real SQLite and the fs store: cleanup copies the used blobs of wasteful packs, points manifests at them, and a later cleanup frees the rest.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import { CATALOG_INDEX_KEY, forgetCatalogIndex } from "../core/catalog-index.ts";
import { deleteBackup, runCleanup } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import { manifestKey } from "../core/ids.ts";
import type { StoredManifest, StoredManifestV2 } from "../core/manifest.ts";
import { gzipText, isGzipped, manifestJsonText } from "../core/manifest-codec.ts";
import { runRestore } from "../core/restore.ts";
import { PACK_GRACE_MS, REPACKED_PREFIX } from "../core/v2/gc.ts";
import { verifyBackup } from "../core/verify.ts";
import { dbContent, makeCrm, makeTestEngine, treeDigest } from "./helpers/crm.ts";

const V2 = { BACKUP_FORMAT: "v2" };
const CONFIRM = "CONFIRM_RESTORE";

async function backup(engine: Engine): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

const packsOf = (m: StoredManifest): Set<string> =>
  new Set(m.formatVersion === 2 ? Object.values(m.components).flatMap((c) => c.files.flatMap((f) => f.blobs.map((b) => b.pack))) : []);
const storePacks = async (engine: Engine) => new Map((await engine.storage.list("data/packs/")).map((o) => [o.key, o.size]));
const later = (engine: Engine): Engine => ({ ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) });
const crmTree = (root: string) => Object.fromEntries(Object.entries(treeDigest(root)).filter(([p]) => !p.startsWith("prisma/dev.db")));
const packFile = (engine: Engine, key: string) => path.join(engine.config.backupDir, key);
/** Makes the listed packs look written two hours ago (fs store: a pack's modified time is its file's mtime). */
const age = (engine: Engine, keys: Iterable<string>) => {
  const t = new Date(Date.now() - 2 * PACK_GRACE_MS);
  for (const k of keys) utimesSync(packFile(engine, k), t, t);
};

/** A store where one pack holds six 300 KB uploads and the only backup left that uses it keeps one of them. */
async function wastefulPack() {
  const crm = makeCrm();
  const engine = makeTestEngine(crm.root, undefined, V2);
  const first = await backup(engine);
  for (let i = 1; i <= 6; i++) writeFileSync(path.join(crm.root, `uploads/big${i}.bin`), randomBytes(300_000));
  const second = await backup(engine);
  for (let i = 1; i <= 5; i++) rmSync(path.join(crm.root, `uploads/big${i}.bin`));
  const third = await backup(engine);
  const keptFile = third.components.uploads!.files.find((f) => f.path === "uploads/big6.bin")!;
  const wasteful = keptFile.blobs[0]!.pack;
  expect(packsOf(first).has(wasteful)).toBe(false);
  await deleteBackup(later(engine), second.id, "test");
  return { crm, engine, first, third, wasteful };
}

describe("v2 repacking", () => {
  it("copies the used blobs of a mostly unused pack, points the manifest at them, and a cleanup after the grace frees the rest", async () => {
    const { crm, engine, first, third, wasteful } = await wastefulPack();
    const tree = crmTree(crm.root);
    const rows = dbContent(crm.db);
    const wastefulSize = (await storePacks(engine)).get(wasteful)!;

    const dry = await runCleanup(later(engine), { dryRun: true });
    expect(dry.repack.packsRepacked).toContain(wasteful);
    expect(dry.repack.freeableBytes).toBeGreaterThanOrEqual(5 * 300_000);
    expect(dry.repack.rewrittenBytes).toBeGreaterThanOrEqual(300_000);
    expect(dry.repack.freeableBytes).toBe(dry.repack.packBytes - dry.repack.rewrittenBytes);
    expect(dry.repack.manifestsRewritten).toBe(0);
    expect(await readManifest(engine.storage, third.id)).toEqual(third); // the dry run changed nothing

    const real = await runCleanup(later(engine), { actor: "test" });
    expect(real.repack).toMatchObject({ blockedBy: null, packsRepacked: dry.repack.packsRepacked, freeableBytes: dry.repack.freeableBytes, damagedPacks: [], failures: [] });
    expect(real.repack.manifestsRewritten).toBeGreaterThanOrEqual(1);
    expect(real.repack.packsWritten).toBeGreaterThanOrEqual(1);
    const moved = await readManifest(engine.storage, third.id);
    expect(packsOf(moved).has(wasteful)).toBe(false);
    expect((await storePacks(engine)).has(wasteful)).toBe(true); // deleted only by a later cleanup
    // The listings' cache names the new manifest object, so a listing need not read it again.
    const index = JSON.parse(readFileSync(path.join(engine.config.backupDir, CATALOG_INDEX_KEY), "utf8")) as { entries: { key: string; version: string; size: number }[] };
    const stat = (await engine.storage.stat(manifestKey(third.id)))!;
    expect(index.entries.find((e) => e.key === manifestKey(third.id))).toMatchObject({ version: stat.version, size: stat.size });
    // Everything but the blob places is the same backup.
    const strip = (m: StoredManifest) => JSON.parse(JSON.stringify(m, (k, v) => (k === "pack" || k === "offset" ? undefined : v)));
    expect(strip(moved)).toEqual(strip(third));

    // An old pack is kept while its repack record is young, even when the pack itself is old.
    age(engine, [wasteful]);
    const soon = await runCleanup(engine, { actor: "test" });
    expect(soon.packs.packsKeptRepacked).toBeGreaterThanOrEqual(1);
    expect((await storePacks(engine)).has(wasteful)).toBe(true);

    const past = await runCleanup(later(engine), { actor: "test" });
    expect(past.packs.packsRemoved).toContain(wasteful);
    expect(past.packs.freedBytes).toBeGreaterThanOrEqual(wastefulSize);
    expect(await engine.storage.list(REPACKED_PREFIX)).toEqual([]);
    expect(past.repack.packsRepacked).toEqual([]); // nothing left worth rewriting

    for (const id of [first.id, third.id]) expect((await verifyBackup(engine, id)).ok).toBe(true);
    rmSync(path.join(crm.root, "uploads/big6.bin"));
    await runRestore(engine, { backupId: third.id, components: ["database", "uploads", "config", "logs"], confirm: CONFIRM });
    expect(crmTree(crm.root)).toEqual(tree);
    expect(dbContent(crm.db)).toEqual(rows);
  });

  it("rewrites a manifest stored in an older form (gzipped full JSON) into one that reads as the same backup", async () => {
    const { engine, third, wasteful } = await wastefulPack();
    const key = path.join(engine.config.backupDir, manifestKey(third.id));
    writeFileSync(key, gzipText(JSON.stringify(third, null, 2)));
    forgetCatalogIndex();
    expect(JSON.parse(manifestJsonText(readFileSync(key))).packs).toBeUndefined();
    const out = await runCleanup(later(engine), { actor: "test" });
    expect(out.repack.packsRepacked).toContain(wasteful);
    const raw = readFileSync(key);
    expect(isGzipped(raw)).toBe(true);
    expect(Array.isArray(JSON.parse(manifestJsonText(raw)).packs)).toBe(true); // today's compact form
    const moved = await readManifest(engine.storage, third.id);
    expect(packsOf(moved).has(wasteful)).toBe(false);
    expect((await verifyBackup(engine, third.id)).ok).toBe(true);
  });

  it("repacks nothing while a manifest is damaged, and never copies a blob that fails its check", async () => {
    const { engine, first, third, wasteful } = await wastefulPack();
    const firstKey = path.join(engine.config.backupDir, manifestKey(first.id));
    const firstBytes = readFileSync(firstKey);
    writeFileSync(firstKey, firstBytes.subarray(0, 100));
    const packsBefore = await storePacks(engine);
    const blocked = await runCleanup(later(engine), { actor: "test" });
    expect(blocked.repack.blockedBy).toMatch(/damaged manifest/);
    expect(blocked.repack.packsRepacked).toEqual([]);
    expect(await storePacks(engine)).toEqual(packsBefore);
    writeFileSync(firstKey, firstBytes);

    // Flip a byte inside the blob third still uses: the pack is left whole, the manifest unchanged.
    const blob = third.components.uploads!.files.find((f) => f.path === "uploads/big6.bin")!.blobs[0]!;
    const file = packFile(engine, wasteful);
    const bytes = readFileSync(file);
    bytes[blob.offset + 10] = bytes[blob.offset + 10]! ^ 0xff;
    writeFileSync(file, bytes);
    age(engine, [wasteful]);
    const out = await runCleanup(later(engine), { actor: "test" });
    expect(out.repack.damagedPacks).toEqual([wasteful]);
    expect(out.repack.failures.join("\n")).toMatch(/kept whole/);
    expect(out.repack.packsRepacked).not.toContain(wasteful);
    expect(await readManifest(engine.storage, third.id)).toEqual(third);
    expect((await storePacks(engine)).has(wasteful)).toBe(true);
  });

  it("points a pre-restore backup at the copies too, and it restores the state it saved", async () => {
    const { crm, engine, third, wasteful } = await wastefulPack();
    const live = path.join(crm.root, "uploads/live-only.bin");
    const content = randomBytes(200_000);
    writeFileSync(live, content);
    const { preRestoreBackupId } = await runRestore(engine, { backupId: third.id, components: ["uploads"], confirm: CONFIRM });
    const pre = await readManifest(engine.storage, preRestoreBackupId!);
    expect(packsOf(pre).has(wasteful)).toBe(true); // big6 is still live, so the pre-restore backup shares its pack
    const out = await runCleanup(later(engine), { actor: "test" });
    expect(out.repack.packsRepacked).toContain(wasteful);
    expect(packsOf(await readManifest(engine.storage, pre.id)).has(wasteful)).toBe(false);
    await runCleanup(later(engine), { actor: "test" });
    expect((await storePacks(engine)).has(wasteful)).toBe(false);
    expect((await verifyBackup(engine, pre.id)).ok).toBe(true);
    expect(existsSync(live)).toBe(false); // restoring third replaced the uploads
    await runRestore(engine, { backupId: pre.id, components: ["uploads"], confirm: CONFIRM });
    expect(readFileSync(live).equals(content)).toBe(true);
  });

  it("--max-repack 0 repacks nothing; the dry run still reports what is partly used", async () => {
    const { engine, wasteful } = await wastefulPack();
    const off = await runCleanup(later(engine), { dryRun: true, maxRepackBytes: 0 });
    expect(off.repack.packsRepacked).toEqual([]);
    expect(off.packs.partlyReferenced.packs).toBeGreaterThan(0);
    const on = await runCleanup(later(engine), { dryRun: true });
    expect(on.repack.packsRepacked).toContain(wasteful);
  });
});
