// API tests for looking inside backups: details without file lists, paged file browsing, and the run history, for v1 and v2.
import { renameSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import { runCleanup } from "../core/cleanup.ts";
import { verifyBackup } from "../core/verify.ts";
import { makeTestEngine } from "../test/helpers/crm.ts";
import { hsToken, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi;
let v1Id: string;
let v2Id: string;

type Details = { formatVersion: number; components: Record<string, { fileCount: number; totalSize: number; blobCount?: number; files?: unknown; database?: { tables: Record<string, number>; pageSize: number; integrityCheck: string; snapshotSha256: string } }>; archive?: { sha256: string }; stored?: { bytesAdded: number; filesReused: number } };
type FilePage = { total: number; totalSize: number; page: number; pageSize: number; items: { path: string; component: string; size: number; sha256: string; blobs?: number }[] };
type Runs = { items: { action: string; result: string; backupId?: string; durationMs: number | null; sizeBytes: number | null; bytesAdded?: number; filesReused?: number; error?: string }[] };

async function backupAs(format: "v1" | "v2"): Promise<string> {
  const engine = makeTestEngine(api.crm.root, api.deps.engine.config.backupDir, { BACKUP_FORMAT: format });
  const out = await runBackup(engine, { type: "manual", actor: "test" });
  if (out.skipped || out.manifest.formatVersion !== (format === "v1" ? 1 : 2)) throw new Error(`expected a ${format} backup`);
  return out.manifest.id;
}

beforeAll(async () => {
  api = await makeTestApi();
  v1Id = await backupAs("v1");
  v2Id = await backupAs("v2");
});

describe("GET /api/backup/{id}/details", () => {
  it.each([["v1", () => v1Id], ["v2", () => v2Id]])("gives a %s backup's components, counts, sizes, hashes and database facts without file lists", async (format, id) => {
    const res = await api.call(`/api/backup/${id()}/details`);
    expect(res.status).toBe(200);
    const d = (await res.json()) as Details;
    const m = await readManifest(api.deps.engine.storage, id());
    for (const [name, c] of Object.entries(m.components)) {
      expect(d.components[name]).toMatchObject({ fileCount: c.fileCount, totalSize: c.totalSize });
      expect(d.components[name]!.files).toBeUndefined();
    }
    const db = d.components.database!.database!;
    expect(db.tables).toEqual({ Customer: 500, Deal: 500 });
    expect(db.integrityCheck).toBe("ok");
    expect(db.pageSize).toBeGreaterThan(0);
    expect(db.snapshotSha256).toBe(m.components.database!.files[0]!.sha256);
    if (format === "v1") {
      expect(d.archive?.sha256).toMatch(/^[0-9a-f]{64}$/);
    } else {
      expect(d.stored).toMatchObject({ bytesAdded: expect.any(Number), filesReused: expect.any(Number) });
      expect(d.components.uploads!.blobCount).toBeGreaterThanOrEqual(d.components.uploads!.fileCount - 1);
    }
  });

  it("answers 404 naming the id for an unknown backup and 400 for a malformed one", async () => {
    const missing = await api.call("/api/backup/manual-20990101T000000Z-abcdef/details");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain("manual-20990101T000000Z-abcdef");
    expect((await api.call("/api/backup/not-an-id/details")).status).toBe(400);
  });

  it("needs an admin token", async () => {
    expect((await api.app.request(`/api/backup/${v1Id}/details`)).status).toBe(401);
    const user = await hsToken({ sub: "u", role: "USER" });
    expect((await api.app.request(`/api/backup/${v1Id}/files`, { headers: { authorization: `Bearer ${user}` } })).status).toBe(403);
  });
});

describe("GET /api/backup/{id}/files", () => {
  it.each([["v1", () => v1Id], ["v2", () => v2Id]])("pages through a %s backup's files sorted by path, with every match counted", async (format, id) => {
    const m = await readManifest(api.deps.engine.storage, id());
    const all = Object.values(m.components).flatMap((c) => c.files.map((f) => f.path)).sort();
    const first = (await (await api.call(`/api/backup/${id()}/files?pageSize=3`)).json()) as FilePage;
    expect(first.total).toBe(all.length);
    expect(first.items.map((f) => f.path)).toEqual(all.slice(0, 3));
    const second = (await (await api.call(`/api/backup/${id()}/files?pageSize=3&page=2`)).json()) as FilePage;
    expect(second.items.map((f) => f.path)).toEqual(all.slice(3, 6));
    expect(first.items[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    if (format === "v2") expect(first.items[0]!.blobs).toBeGreaterThanOrEqual(0);
    else expect(first.items[0]!.blobs).toBeUndefined();
  });

  it("filters by text (any case), by folder and by component", async () => {
    const byText = (await (await api.call(`/api/backup/${v2Id}/files?q=NESTED`)).json()) as FilePage;
    expect(byText.items.map((f) => f.path)).toEqual(["uploads/deep/nested/b.txt"]);
    expect(byText.totalSize).toBe(6000);
    const byFolder = (await (await api.call(`/api/backup/${v1Id}/files?under=uploads/deep`)).json()) as FilePage;
    expect(byFolder.items.map((f) => f.path)).toEqual(["uploads/deep/nested/b.txt"]);
    const logs = (await (await api.call(`/api/backup/${v1Id}/files?component=logs`)).json()) as FilePage;
    expect(logs.total).toBeGreaterThan(0);
    expect(logs.items.every((f) => f.component === "logs" && f.path.startsWith("logs/"))).toBe(true);
    const none = (await (await api.call(`/api/backup/${v1Id}/files?q=no-such-file`)).json()) as FilePage;
    expect(none).toMatchObject({ total: 0, items: [] });
  });

  it("refuses bad queries with a 400 naming the field and what it expects", async () => {
    const res = await api.call(`/api/backup/${v1Id}/files?pageSize=0&component=secrets&under=../etc`);
    expect(res.status).toBe(400);
    const fields = ((await res.json()) as { error: { fields: { path: string; message: string }[] } }).error.fields;
    expect(fields).toEqual(
      expect.arrayContaining([
        { path: "pageSize", message: "pageSize must be at least 1" },
        { path: "component", message: expect.stringContaining("database, uploads, config, logs") },
        { path: "under", message: expect.stringContaining("a folder inside the backup") },
      ]),
    );
  });
});

describe("GET /api/backup/runs", () => {
  it("lists backup and verify runs newest first with duration and size, a failed backup included, deletes left out", async () => {
    await verifyBackup(api.deps.engine, v1Id, undefined, { actor: "cli" });
    // With the CRM's folder gone the database snapshot fails for real, so the run is recorded as failed.
    renameSync(api.crm.root, `${api.crm.root}.away`);
    try {
      await expect(runBackup(api.deps.engine, { type: "manual", actor: "test" })).rejects.toThrow(/snapshot database/);
    } finally {
      renameSync(`${api.crm.root}.away`, api.crm.root);
    }
    const res = await api.call("/api/backup/runs?limit=10");
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as Runs;
    const [failed, verify] = items;
    expect(failed).toMatchObject({ action: "backup", result: "failed", sizeBytes: null, error: expect.stringContaining("snapshot database") });
    expect(failed!.durationMs).toBeGreaterThanOrEqual(0);
    const v1 = await readManifest(api.deps.engine.storage, v1Id);
    const v2 = await readManifest(api.deps.engine.storage, v2Id);
    if (v1.formatVersion !== 1 || v2.formatVersion !== 2) throw new Error("formats");
    expect(verify).toMatchObject({ action: "verify", result: "succeeded", backupId: v1Id, sizeBytes: v1.archive.sizeBytes });
    const v2Run = items.find((r) => r.action === "backup" && r.backupId === v2Id)!;
    expect(v2Run).toMatchObject({ result: "succeeded", sizeBytes: v2.stored.referencedBytes, bytesAdded: v2.stored.bytesAdded, filesReused: v2.stored.filesReused });
    expect(v2Run.durationMs).toBeGreaterThanOrEqual(0);

    // A deleted backup keeps its size in the history: the backup's record carries it.
    expect((await api.call(`/api/backup/${v1Id}`, { method: "DELETE" })).status).toBe(200);
    const after = ((await (await api.call("/api/backup/runs")).json()) as Runs).items;
    expect(after.some((r) => r.action === "delete" as string)).toBe(false);
    expect(after.find((r) => r.action === "backup" && r.backupId === v1Id)!.sizeBytes).toBe(v1.archive.sizeBytes);

    // A cleanup is a run too, with its duration and the bytes it freed as its size.
    const cleanup = await runCleanup(api.deps.engine, { actor: "test" });
    const [newest] = ((await (await api.call("/api/backup/runs?limit=1")).json()) as Runs).items;
    expect(newest).toMatchObject({ action: "cleanup", result: "succeeded", sizeBytes: cleanup.freedBytes });
    expect(newest!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("refuses a limit out of range", async () => {
    const res = await api.call("/api/backup/runs?limit=0");
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("limit must be at least 1");
  });
});
