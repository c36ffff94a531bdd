// Garbage collection of v2 packs on real files, real SQLite and the fs store: what delete and cleanup remove, and what they must keep.
import { randomBytes } from "node:crypto";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readAudit, readManifest } from "../core/catalog.ts";
import { deleteBackup, runCleanup } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import { manifestKey } from "../core/ids.ts";
import type { StoredManifest, StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { verifyBackup } from "../core/verify.ts";
import { dbContent, makeCrm, makeTestEngine, treeDigest } from "./helpers/crm.ts";

const V2 = { BACKUP_FORMAT: "v2" };
const CONFIRM = "CONFIRM_RESTORE";

async function backup(engine: Engine, type: "manual" | "daily" = "manual"): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

const packsOf = (m: StoredManifest): Set<string> =>
  new Set(m.formatVersion === 2 ? Object.values(m.components).flatMap((c) => c.files.flatMap((f) => f.blobs.map((b) => b.pack))) : []);
/** Packs in the store, key -> size. */
const storePacks = async (engine: Engine) => new Map((await engine.storage.list("data/packs/")).map((o) => [o.key, o.size]));
/** The same engine, its clock past the grace period of every pack written so far. */
const later = (engine: Engine): Engine => ({ ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) });
const crmTree = (root: string) => Object.fromEntries(Object.entries(treeDigest(root)).filter(([p]) => !p.startsWith("prisma/dev.db")));

describe("v2 garbage collection", () => {
  it("delete removes the packs only the deleted backups used, keeps shared ones, and the rest verify and restore byte for byte", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const tree = crmTree(crm.root);
    const rows = dbContent(crm.db);
    const first = await backup(engine);
    writeFileSync(path.join(crm.root, "uploads/new.bin"), randomBytes(300_000));
    const second = await backup(engine);
    const third = await backup(engine); // nothing changed: references second's new pack
    const added = [...packsOf(second)].filter((p) => !packsOf(first).has(p));
    expect(added.length).toBeGreaterThan(0);
    for (const p of added) expect(packsOf(third).has(p)).toBe(true);
    const sizes = await storePacks(engine);

    // second's new pack is shared with third: deleting second frees nothing.
    expect(await deleteBackup(later(engine), second.id, "test")).toEqual({ id: second.id, freedBytes: 0, kind: "backup" });
    for (const p of added) expect((await storePacks(engine)).has(p)).toBe(true);

    // Once third goes too, nobody references it.
    const out = await deleteBackup(later(engine), third.id, "test");
    expect(out.freedBytes).toBe(added.reduce((n, p) => n + sizes.get(p)!, 0));
    const left = await storePacks(engine);
    for (const p of added) expect(left.has(p)).toBe(false);
    expect([...left.keys()].sort()).toEqual([...packsOf(first)].sort());
    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "delete", backupId: third.id, detail: { packsRemoved: added.length, packBytesFreed: out.freedBytes } });

    expect((await verifyBackup(engine, first.id)).ok).toBe(true);
    await runRestore(engine, { backupId: first.id, components: ["database", "uploads", "config", "logs"], confirm: CONFIRM });
    expect(crmTree(crm.root)).toEqual(tree);
    expect(dbContent(crm.db)).toEqual(rows);
  });

  it("keeps young packs, deletes nothing while a manifest is damaged, and the dry run reports the bytes the real run frees", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), randomBytes(200_000));
    const second = await backup(engine);
    const added = [...packsOf(second)].filter((p) => !packsOf(first).has(p));
    expect(added.length).toBeGreaterThan(0);
    const sizes = await storePacks(engine);
    const addedBytes = added.reduce((n, p) => n + sizes.get(p)!, 0);

    // A damaged manifest may reference any pack: nothing is deleted, and the outcome says why.
    truncateSync(path.join(engine.config.backupDir, manifestKey(second.id)), 100);
    const blocked = await runCleanup(later(engine), { actor: "test" });
    expect(blocked.packs.blockedBy).toMatch(new RegExp(`damaged manifest.*${second.id}`));
    expect(blocked.packs.packsRemoved).toEqual([]);
    expect((await storePacks(engine)).size).toBe(sizes.size);
    const [blockedAudit] = await readAudit(engine.storage);
    expect(blockedAudit?.detail).toMatchObject({ packsRemoved: 0, packsBlockedBy: expect.stringContaining(second.id) });

    // Without it, second's packs are garbage, but written moments ago: kept for the grace period.
    await deleteBackup(engine, second.id, "test");
    const young = await runCleanup(engine, { actor: "test" });
    expect(young.packs).toMatchObject({ blockedBy: null, packsRemoved: [], packsKeptYoung: added.length, freedBytes: 0 });
    expect((await storePacks(engine)).size).toBe(sizes.size);

    // Past the grace period: the dry run names them and deletes nothing; the real run frees exactly that.
    const dry = await runCleanup(later(engine), { dryRun: true });
    expect([...dry.packs.packsRemoved].sort()).toEqual([...added].sort());
    expect(dry.packs.freedBytes).toBe(addedBytes);
    expect(dry.freedBytes).toBe(addedBytes);
    expect((await storePacks(engine)).size).toBe(sizes.size);
    const real = await runCleanup(later(engine), { actor: "test" });
    expect(real.packs.freedBytes).toBe(dry.packs.freedBytes);
    expect(real.freedBytes).toBe(dry.freedBytes);
    expect([...(await storePacks(engine)).keys()].sort()).toEqual([...packsOf(first)].sort());
    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "cleanup", detail: { packsRemoved: added.length, packBytesFreed: addedBytes } });
    expect((await verifyBackup(engine, first.id)).ok).toBe(true);
  });

  it("cleanup collects the packs of backups the policy expired, and reports packs still partly in use", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { ...V2, BACKUP_RETENTION_DAILY: "1" });
    const base = await backup(engine);
    const oldFile = path.join(crm.root, "uploads/old.bin");
    writeFileSync(oldFile, randomBytes(300_000));
    const expired = await backup({ ...engine, now: () => new Date(Date.now() - 6 * 86_400_000) }, "daily");
    const expiredOnly = [...packsOf(expired)].filter((p) => !packsOf(base).has(p));
    expect(expiredOnly.length).toBeGreaterThan(0);
    truncateSync(oldFile, 0);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), randomBytes(200_000));
    const kept = await backup(engine, "daily");

    const out = await runCleanup(later(engine), { actor: "test" });
    expect(out.removed).toEqual([expired.id]);
    expect([...out.packs.packsRemoved].sort()).toEqual([...expiredOnly].sort());
    const left = await storePacks(engine);
    expect([...left.keys()].sort()).toEqual([...new Set([...packsOf(base), ...packsOf(kept)])].sort());
    for (const m of [base, kept]) expect((await verifyBackup(engine, m.id)).ok).toBe(true);

    // Without base, its pack still holds pieces kept uses, and the old a.txt that nobody does: kept, and counted.
    await deleteBackup(later(engine), base.id, "test");
    const oldA = base.components.uploads!.files.find((f) => f.path === "uploads/a.txt")!.blobs[0]!;
    const dry = await runCleanup(later(engine), { dryRun: true });
    expect(dry.packs.partlyReferenced.packs).toBeGreaterThan(0);
    expect(dry.packs.partlyReferenced.unreferencedBytes).toBeGreaterThanOrEqual(oldA.length);
    expect((await verifyBackup(engine, kept.id)).ok).toBe(true);
  });

  it("keeps the packs of a pre-restore backup, which restores the state it saved", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const first = await backup(engine);
    const liveOnly = path.join(crm.root, "uploads/live-only.bin");
    const content = randomBytes(300_000);
    writeFileSync(liveOnly, content);
    const { preRestoreBackupId } = await runRestore(engine, { backupId: first.id, components: ["uploads"], confirm: CONFIRM });
    const pre = await readManifest(engine.storage, preRestoreBackupId!);
    const preOnly = [...packsOf(pre)].filter((p) => !packsOf(first).has(p));
    expect(preOnly.length).toBeGreaterThan(0);

    const out = await runCleanup(later(engine), { actor: "test" });
    expect(out.removed).toEqual([]);
    const left = await storePacks(engine);
    for (const p of preOnly) expect(left.has(p)).toBe(true);
    expect((await verifyBackup(engine, pre.id)).ok).toBe(true);
    await runRestore(engine, { backupId: pre.id, components: ["uploads"], confirm: CONFIRM });
    expect(readFileSync(liveOnly).equals(content)).toBe(true);
  });
});
