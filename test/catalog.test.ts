// The catalog's listing: summaries without file lists kept while a manifest's version is unchanged, and a scan that
// names damaged manifests, orphan archives and interrupted runs instead of failing on them (fs, memory and S3 stores).
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { latestBackup, listBackups, readManifest, removeBackup } from "../core/catalog.ts";
import { scanCatalog } from "../core/catalog-scan.ts";
import type { Engine } from "../core/engine.ts";
import { StoreError } from "../core/errors.ts";
import { archiveKey, manifestKey, pendingKey } from "../core/ids.ts";
import { MemoryStorage } from "../core/storage/memory-storage.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { CREDENTIALS } from "./localstack/config.ts";
import { adminS3, deletePrefix } from "./localstack/resources.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";
import { plantDamage } from "./helpers/store-damage.ts";

describe("listBackups", () => {
  it("lists summaries without per-file lists, and sees rewrites and deletions despite its cache", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const out = await runBackup(engine, { type: "manual", description: "first" });
    if (out.skipped) throw new Error("unexpected skip");
    const [listed] = await listBackups(engine.storage);
    expect(listed).toMatchObject({ id: out.manifest.id, description: "first", components: { uploads: { status: "included", fileCount: 5 } } });
    expect(listed!.components.uploads).not.toHaveProperty("files");

    const full = await readManifest(engine.storage, out.manifest.id);
    expect(full.components.uploads!.files).toHaveLength(5);
    await engine.storage.put(manifestKey(full.id), JSON.stringify({ ...full, description: "rewritten" }));
    expect((await listBackups(engine.storage))[0]!.description).toBe("rewritten");

    await removeBackup(engine.storage, full.id);
    expect(await listBackups(engine.storage)).toEqual([]);
  });
});

const ls = inject("localstack");
if (!ls?.endpoint) throw new Error("the LocalStack globalSetup did not run (see vitest.config.ts): S3 tests cannot be skipped");
process.env.AWS_ACCESS_KEY_ID ??= CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY ??= CREDENTIALS.secretAccessKey;
const s3Prefix = `test-runs/catalog-${randomUUID()}/`;
afterAll(async () => {
  const admin = adminS3(ls);
  await deletePrefix(admin, ls.bucket, s3Prefix);
  admin.destroy();
});

const stores: [string, (engine: Engine) => Engine][] = [
  ["fs store", (e) => e],
  ["memory store", (e) => ({ ...e, storage: new MemoryStorage(randomUUID()) })],
  ["S3 store (LocalStack)", (e) => ({ ...e, storage: new S3Storage({ bucket: ls.bucket, prefix: `${s3Prefix}${randomUUID()}/`, region: ls.region, endpoint: ls.endpoint }) })],
];

describe.each(stores)("scanCatalog on the %s", (_name, withStore) => {
  it("lists the readable backups and names each damaged manifest, orphan archive and interrupted run", async () => {
    const engine = withStore(makeTestEngine(makeCrm().root));
    const ids = await plantDamage(engine);
    const scan = await scanCatalog(engine.storage);
    expect(scan.backups.map((b) => b.id)).toEqual([ids.good]);
    expect(scan.damaged).toEqual([
      { key: manifestKey(ids.notJson), id: ids.notJson, reason: expect.stringMatching(/^it is not valid JSON \(.+\)$/) },
      { key: manifestKey(ids.badSchema), id: ids.badSchema, reason: expect.stringMatching(/^it does not match the manifest schema \(formatVersion: .*Expected .1. \| .2./) },
      { key: manifestKey(ids.noArchive), id: ids.noArchive, reason: "it records no verified archive" },
      { key: manifestKey(ids.copied), id: ids.copied, reason: `it describes backup ${ids.good}, not ${ids.copied}` },
    ].sort((a, b) => (a.key < b.key ? -1 : 1)));
    expect(scan.orphans).toEqual([{ key: archiveKey(ids.orphan), id: ids.orphan, sizeBytes: 41, modified: expect.any(String) }]);
    expect(scan.incomplete.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([
      { id: ids.incomplete, marker: pendingKey(ids.incomplete), archive: { key: archiveKey(ids.incomplete), sizeBytes: 15 }, startedAt: "2026-11-27T02:00:00.000Z", pid: 999_999, host: "crm-host" },
      { id: ids.markerOnly, marker: pendingKey(ids.markerOnly), archive: null, startedAt: null, pid: null, host: null },
    ]);
    expect(scan.staleMarkers).toEqual([pendingKey(ids.good)]);

    // One type only: the others' problems are not reported.
    const weekly = await scanCatalog(engine.storage, "weekly");
    expect(weekly).toMatchObject({ backups: [], damaged: [], incomplete: [], staleMarkers: [], orphans: [{ id: ids.orphan }] });
    expect((await listBackups(engine.storage)).map((b) => b.id)).toEqual([ids.good]);
    expect((await latestBackup(engine.storage)).id).toBe(ids.good);
  });

  it("reads a damaged manifest as a StoreError naming the key and the reason", async () => {
    const engine = withStore(makeTestEngine(makeCrm().root));
    const ids = await plantDamage(engine);
    const notJson = await readManifest(engine.storage, ids.notJson).catch((e: unknown) => e);
    expect(notJson).toBeInstanceOf(StoreError);
    expect((notJson as Error).message).toMatch(new RegExp(`^read manifest daily/${ids.notJson}\\.json: it is not valid JSON .*colab-backup delete ${ids.notJson}`));
    await expect(readManifest(engine.storage, ids.badSchema)).rejects.toThrow(/read manifest daily\/daily-20261126T020000Z-bbbbbb\.json: it does not match the manifest schema \(formatVersion/);
    await expect(readManifest(engine.storage, ids.noArchive)).rejects.toBeInstanceOf(StoreError);
    await expect(readManifest(engine.storage, ids.copied)).rejects.toThrow(`it describes backup ${ids.good}`);
  });

  it("reports a repaired manifest as readable again (the cache follows the object's version)", async () => {
    const engine = withStore(makeTestEngine(makeCrm().root));
    const ids = await plantDamage(engine);
    expect((await scanCatalog(engine.storage)).damaged.map((d) => d.id)).toContain(ids.notJson);
    const good = await readManifest(engine.storage, ids.good);
    await engine.storage.put(manifestKey(ids.notJson), JSON.stringify({ ...good, id: ids.notJson, createdAt: "2026-11-25T02:00:00.000Z" }));
    const scan = await scanCatalog(engine.storage);
    expect(scan.damaged.map((d) => d.id)).not.toContain(ids.notJson);
    expect(scan.backups.map((b) => b.id)).toEqual([ids.notJson, ids.good]);
  });
});
