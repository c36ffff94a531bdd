// v2 manifests as stored: gzipped compact JSON that gunzip reads, and older forms (plain JSON, gzipped full JSON) still listed, verified, restored, exported and kept by GC.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { listBackups, readManifest } from "../core/catalog.ts";
import { deleteBackup } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import { manifestKey } from "../core/ids.ts";
import { expandManifest, isGzipped } from "../core/manifest-codec.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { exportStream } from "../core/v2/export.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { verifyBackup } from "../core/verify.ts";
import { dbContent, makeCrm, makeTestEngine, tempDir, treeDigest } from "./helpers/crm.ts";

const V2 = { BACKUP_FORMAT: "v2" };

async function backup(engine: Engine): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

const manifestFile = (engine: Engine, id: string) => path.join(engine.config.backupDir, manifestKey(id));
const crmTree = (root: string) => Object.fromEntries(Object.entries(treeDigest(root)).filter(([p]) => !p.startsWith("prisma/dev.db")));
const packsOf = (m: StoredManifestV2) => new Set(Object.values(m.components).flatMap((c) => c.files.flatMap((f) => f.blobs.map((b) => b.pack))));

describe("v2 manifest encoding", () => {
  it("stores a new manifest as gzipped JSON that gunzip shows as the manifest, much smaller than the JSON", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const stored = readFileSync(manifestFile(engine, m.id));
    expect(isGzipped(stored)).toBe(true);
    const text = execFileSync("gunzip", ["-c", manifestFile(engine, m.id)], { encoding: "utf8" });
    // The compact form (core/manifest-codec.ts): pack names once in "packs", blobs pointing into it.
    const compact = JSON.parse(text);
    expect(compact.packs).toEqual([...packsOf(m)]);
    expect(compact.components.uploads.files[0].blobs[0].pack).toBe(compact.packs.indexOf(m.components.uploads!.files[0]!.blobs[0]!.pack));
    expect(expandManifest(compact)).toEqual(JSON.parse(JSON.stringify(m)));
    expect(text).toContain('\n  "formatVersion": 2,\n'); // pretty-printed inside, as before: readable once unpacked
    expect(stored.length).toBeLessThan(Buffer.byteLength(text) / 3);
    expect(await readManifest(engine.storage, m.id)).toEqual(m);
  });

  it("a v2 manifest stored in the gzipped full form (before the compact one) is read as written, and a newer backup reuses its records", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const old = await backup(engine);
    writeFileSync(manifestFile(engine, old.id), gzipSync(JSON.stringify(old, null, 2) + "\n"));
    expect(await readManifest(engine.storage, old.id)).toEqual(old);
    const newer = await backup(engine);
    expect(newer.stored.previousId).toBe(old.id);
    expect(newer.stored.filesReused).toBeGreaterThan(0);
    expect((await listBackups(engine.storage)).map((b) => b.id).sort()).toEqual([old.id, newer.id].sort());
    expect((await verifyBackup(engine, old.id)).ok).toBe(true);
  });

  it("an older plain-JSON v2 manifest is listed, verified, exported, restored and its packs kept by garbage collection", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const tree = crmTree(crm.root);
    const rows = dbContent(crm.db);
    const old = await backup(engine);
    // As a v2 manifest was written before manifests were gzipped: the same record, plain pretty JSON.
    writeFileSync(manifestFile(engine, old.id), JSON.stringify(old, null, 2) + "\n");
    writeFileSync(path.join(crm.root, "uploads/new.bin"), randomBytes(200_000));
    const newer = await backup(engine); // reads the plain manifest as its previous backup: unchanged files are reused
    expect(newer.stored.previousId).toBe(old.id);
    expect(newer.stored.filesReused).toBeGreaterThan(0);
    expect(isGzipped(readFileSync(manifestFile(engine, newer.id)))).toBe(true);

    expect((await listBackups(engine.storage)).map((b) => b.id).sort()).toEqual([old.id, newer.id].sort());
    expect(await readManifest(engine.storage, old.id)).toEqual(old);
    expect((await verifyBackup(engine, old.id)).ok).toBe(true);

    // Garbage collection reads the plain manifest too: deleting the newer backup frees only the packs it alone used.
    const onlyNewer = [...packsOf(newer)].filter((p) => !packsOf(old).has(p));
    await deleteBackup({ ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) }, newer.id, "test");
    const left = new Set((await engine.storage.list("data/packs/")).map((o) => o.key));
    for (const p of packsOf(old)) expect(left.has(p)).toBe(true);
    for (const p of onlyNewer) expect(left.has(p)).toBe(false);
    expect((await verifyBackup(engine, old.id)).ok).toBe(true);

    const archive = path.join(tempDir("plain-export-"), "out.tar.gz");
    const chunks: Buffer[] = [];
    for await (const c of await exportStream(engine.storage, await readManifest(engine.storage, old.id))) chunks.push(c as Buffer);
    writeFileSync(archive, Buffer.concat(chunks));
    const inner = JSON.parse(execFileSync("tar", ["-xzOf", archive, "manifest.json"], { encoding: "utf8" }));
    expect(inner.id).toBe(old.id); // the export's manifest.json stays plain JSON whatever the store holds

    await runRestore(engine, { backupId: old.id, components: ["database", "uploads", "config", "logs"], confirm: "CONFIRM_RESTORE" });
    expect(crmTree(crm.root)).toEqual(tree);
    expect(dbContent(crm.db)).toEqual(rows);
  });

  it("a manifest that is broken gzip is reported damaged with the reason", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const stored = readFileSync(manifestFile(engine, m.id));
    writeFileSync(manifestFile(engine, m.id), stored.subarray(0, Math.floor(stored.length / 2)));
    await expect(readManifest(engine.storage, m.id)).rejects.toThrow(/read manifest manual\/.*\.json: it is gzip data that does not unpack \(.+\); the backup cannot be used/);
  });
});
