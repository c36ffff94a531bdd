// API tests for backups: list, create, read, download, delete, through app.request against a real engine and job runner.
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readAudit } from "../core/catalog.ts";
import { LOCK_KEY, manifestKey } from "../core/ids.ts";
import { acquireLock } from "../core/lock.ts";
import { backupNow, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

describe("POST /api/backup/create", () => {
  it("answers 202 with the job and backup ids and a Location, and the job finishes with the backup listed", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/backup/create", { method: "POST", json: { description: "before upgrade", components: ["database", "uploads"] } });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; backupId: string };
    expect(body).toEqual({ jobId: expect.stringMatching(/^job-/), backupId: expect.stringMatching(/^manual-/) });
    expect(res.headers.get("location")).toBe(`/api/backup/jobs/${body.jobId}`);
    await api.runner.idle();
    const job = await (await api.call(`/api/backup/jobs/${body.jobId}`)).json();
    expect(job).toMatchObject({ id: body.jobId, kind: "backup", state: "succeeded", actor: "admin@example.com", backupId: body.backupId });
    const m = (await (await api.call(`/api/backup/${body.backupId}`)).json()) as { description: string; components: Record<string, { status: string }> };
    expect(m.description).toBe("before upgrade");
    expect(Object.keys(m.components).sort()).toEqual(["database", "uploads"]);
  });

  it("defaults to a manual backup of everything when there is no body", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/backup/create", { method: "POST" });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { backupId: string }).backupId).toMatch(/^manual-/);
  });

  it("makes a daily backup when asked", async () => {
    api = await makeTestApi();
    expect(await backupNow(api, { type: "daily" })).toMatch(/^daily-/);
  });

  it("refuses bad input with a 400 naming each field and what it expects", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/backup/create", { method: "POST", json: { type: "hourly", description: "x".repeat(501), components: ["database", "secrets"] } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; fields: { path: string; message: string }[] } };
    expect(body.error.code).toBe("validation_error");
    expect(body.error.fields).toEqual(
      expect.arrayContaining([
        { path: "type", message: expect.stringContaining("daily, weekly, monthly, manual") },
        { path: "description", message: "must be at most 500 characters" },
        { path: "components.1", message: expect.stringContaining("database, uploads, config, logs") },
      ]),
    );
    expect(body.error.message).toContain("type: must be one of");
  });

  it("says so when the body is not JSON, and refuses a pre-restore backup", async () => {
    api = await makeTestApi();
    const bad = await api.call("/api/backup/create", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);
    const pre = await api.call("/api/backup/create", { method: "POST", json: { type: "pre-restore" } });
    expect(pre.status).toBe(400);
  });

  it("answers 409 with the running job when a backup is already running", async () => {
    api = await makeTestApi();
    const first = await api.call("/api/backup/create", { method: "POST", json: {} });
    expect(first.status).toBe(202);
    const { jobId } = (await first.json()) as { jobId: string };
    const second = await api.call("/api/backup/create", { method: "POST", json: {} });
    expect(second.status).toBe(409);
    const body = (await second.json()) as { error: { code: string; message: string }; running: { id: string; kind: string } };
    expect(body.error.code).toBe("conflict");
    expect(body.error.message).toContain(jobId);
    expect(body.running).toMatchObject({ id: jobId, kind: "backup" });
  });
});

describe("GET /api/backup", () => {
  it("lists backups newest first with their metadata, filters by type and paginates", async () => {
    api = await makeTestApi();
    const manual = await backupNow(api, { description: "one", components: ["config"] });
    const daily1 = await backupNow(api, { type: "daily" });
    const daily2 = await backupNow(api, { type: "daily" });
    const all = (await (await api.call("/api/backup")).json()) as { total: number; page: number; pageSize: number; items: Record<string, unknown>[] };
    expect(all).toMatchObject({ total: 3, page: 1, pageSize: 50 });
    expect(all.items.map((i) => i.id)).toEqual([daily2, daily1, manual]);
    expect(all.items[2]).toEqual({
      id: manual, type: "manual", description: "one", createdAt: expect.any(String),
      // v2 (the default) has no single archive to hash: each blob carries its own SHA-256; v1 items carry the archive's.
      sizeBytes: expect.any(Number), sha256: "", components: ["config"],
    });
    expect(all.items[0]!.components).toEqual(["database", "uploads", "config", "logs"]);

    const daily = (await (await api.call("/api/backup?type=daily&page=2&pageSize=1")).json()) as { total: number; items: { id: string }[] };
    expect(daily).toMatchObject({ total: 2, page: 2, pageSize: 1 });
    expect(daily.items.map((i) => i.id)).toEqual([daily1]);
  });

  it("answers an unchanged store from its cached listing, and the next request shows a manifest damaged or deleted through the store", async () => {
    api = await makeTestApi();
    const a = await backupNow(api, { type: "daily" });
    const b = await backupNow(api, { type: "daily" });
    const { storage } = api.deps.engine;
    const lists = vi.spyOn(storage, "list");
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      type Page = { total: number; items: { id: string }[]; damaged: { id: string }[] };
      const list = async () => {
        await new Promise((r) => setTimeout(r, 25)); // each change in a timestamp tick of its own
        vi.setSystemTime(performance.timeOrigin + performance.now() + 5_000); // past the fs token's 2 s settle
        return (await (await api!.call("/api/backup")).json()) as Page;
      };
      expect((await list()).total).toBe(2);
      lists.mockClear();
      expect((await list()).items.map((i) => i.id)).toEqual([b, a]);
      expect(lists.mock.calls.filter(([prefix]) => prefix === "daily/")).toEqual([]); // no stat per manifest
      await storage.put(manifestKey(a), "{ not json");
      const damaged = await list();
      expect([damaged.items.map((i) => i.id), damaged.damaged.map((d) => d.id)]).toEqual([[b], [a]]);
      await storage.delete(manifestKey(b));
      expect((await list()).items).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a page size over 200, an unknown type and a page that is not a number", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/backup?pageSize=201&type=hourly&page=abc");
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { fields: { path: string; message: string }[] } };
    expect(error.fields).toEqual(
      expect.arrayContaining([
        { path: "pageSize", message: "pageSize must be at most 200" },
        { path: "type", message: expect.stringContaining("daily, weekly, monthly, manual, pre-restore") },
        { path: "page", message: expect.stringContaining("page must be a whole number") },
      ]),
    );
  });
});

describe("GET /api/backup/:id and /download", () => {
  it("streams the exact archive bytes of a v1 backup with gzip headers", async () => {
    api = await makeTestApi({}, { BACKUP_FORMAT: "v1" });
    const id = await backupNow(api);
    const m = (await (await api.call(`/api/backup/${id}`)).json()) as { archive: { sha256: string; sizeBytes: number } };
    const res = await api.call(`/api/backup/${id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("content-length")).toBe(String(m.archive.sizeBytes));
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${id}.tar.gz"`);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(m.archive.sizeBytes);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(m.archive.sha256);
  });

  it("redirects to a presigned URL of a v1 backup's stored archive", async () => {
    const asked: string[] = [];
    api = await makeTestApi({ download: async (id, key) => (asked.push(`${id} ${key}`), { redirect: `https://s3.example.com/${key}?sig=1` }) }, { BACKUP_FORMAT: "v1" });
    const id = await backupNow(api);
    const res = await api.call(`/api/backup/${id}/download`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`https://s3.example.com/manual/${id}.tar.gz?sig=1`);
    expect(asked).toEqual([`${id} manual/${id}.tar.gz`]);
  });

  it("answers 404 for an unknown id and 400 with the id format for a malformed one", async () => {
    api = await makeTestApi();
    for (const path of ["/api/backup/daily-20200101T000000Z-abcdef", "/api/backup/daily-20200101T000000Z-abcdef/download"]) {
      const res = await api.call(path);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
    const bad = await api.call("/api/backup/..%2Fetc%2Fpasswd/download");
    expect(bad.status).toBe(400);
    const { error } = (await bad.json()) as { error: { fields: { path: string; message: string }[] } };
    expect(error.fields[0]).toEqual({ path: "id", message: expect.stringContaining("e.g. daily-20261126T020000Z-1a2b3c") });
  });
});

describe("DELETE /api/backup/:id", () => {
  it("deletes the backup and writes an audit record naming the admin", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    const res = await api.call(`/api/backup/${id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id, freedBytes: expect.any(Number), kind: "backup" });
    expect((await api.call(`/api/backup/${id}`)).status).toBe(404);
    const [record] = await readAudit(api.deps.engine.storage);
    expect(record).toMatchObject({ action: "delete", backupId: id, actor: "admin@example.com", result: "succeeded" });
    const audit = (await (await api.call("/api/backup/audit?limit=1")).json()) as { items: unknown[] };
    expect(audit.items).toEqual([record]);
  });

  it("answers 404 for an unknown id and 409 with the holder while another process holds the store lock", async () => {
    api = await makeTestApi();
    expect((await api.call("/api/backup/manual-20200101T000000Z-abcdef", { method: "DELETE" })).status).toBe(404);
    const id = await backupNow(api);
    const lock = await acquireLock(api.deps.engine.storage, LOCK_KEY, { id: "backup-daily", operation: "daily backup", host: "worker-1" });
    try {
      const res = await api.call(`/api/backup/${id}`, { method: "DELETE" });
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: { code: string; message: string }; running: Record<string, unknown> };
      expect(body.error.code).toBe("conflict");
      expect(body.running).toMatchObject({ operation: "daily backup", host: "worker-1" });
    } finally {
      await lock.release();
    }
    expect((await api.call(`/api/backup/${id}`, { method: "DELETE" })).status).toBe(200);
  });
});
