// API tests for restore, verify, cleanup and job polling, against a real engine and job runner.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readAudit } from "../core/catalog.ts";
import { newJobId, saveJob } from "../core/jobs/records.ts";
import { backupNow, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

type Err = { error: { code: string; message: string; fields?: { path: string; message: string }[] } };

describe("POST /api/backup/restore", () => {
  it("starts a restore (202 with the job) that puts the backed-up files back", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    const file = path.join(api.crm.root, "uploads/a.txt");
    writeFileSync(file, "changed\n");
    const res = await api.call("/api/backup/restore", { method: "POST", json: { backupId: id, components: ["uploads"], confirmToken: "CONFIRM_RESTORE" } });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; backupId: string };
    expect(body).toEqual({ jobId: expect.stringMatching(/^job-/), backupId: id });
    expect(res.headers.get("location")).toBe(`/api/backup/jobs/${body.jobId}`);
    await api.runner.idle();
    const job = (await (await api.call(`/api/backup/jobs/${body.jobId}`)).json()) as { state: string; kind: string; result: { preRestoreBackupId: string } };
    expect(job).toMatchObject({ kind: "restore", state: "succeeded", result: { preRestoreBackupId: expect.stringMatching(/^pre-restore-/) } });
    expect(readFileSync(file, "utf8")).toBe("alpha\n");
  });

  it("says the exact confirm token is required", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    const res = await api.call("/api/backup/restore", { method: "POST", json: { backupId: id, components: ["uploads"], confirmToken: "yes" } });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as Err;
    expect(error.fields).toEqual([{ path: "confirmToken", message: 'must be exactly "CONFIRM_RESTORE": a restore replaces live data' }]);
    expect(error.message).toContain("CONFIRM_RESTORE");
  });

  it("names every missing field of an empty body", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/backup/restore", { method: "POST", json: {} });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Err).error.fields!.map((f) => f.path).sort()).toEqual(["backupId", "components", "confirmToken"]);
  });

  it("answers 404 for an unknown backup and 400 for a component the backup does not hold", async () => {
    api = await makeTestApi();
    const unknown = await api.call("/api/backup/restore", { method: "POST", json: { backupId: "daily-20200101T000000Z-abcdef", components: ["uploads"], confirmToken: "CONFIRM_RESTORE" } });
    expect(unknown.status).toBe(404);
    const id = await backupNow(api, { components: ["config"] });
    const res = await api.call("/api/backup/restore", { method: "POST", json: { backupId: id, components: ["database"], confirmToken: "CONFIRM_RESTORE" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Err).error.message).toMatch(/has no database component/);
  });

  it("answers 409 while a backup job is running", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    expect((await api.call("/api/backup/create", { method: "POST" })).status).toBe(202);
    const res = await api.call("/api/backup/restore", { method: "POST", json: { backupId: id, components: ["uploads"], confirmToken: "CONFIRM_RESTORE" } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { running: { kind: string } }).running.kind).toBe("backup");
  });
});

describe("POST /api/backup/:id/verify", () => {
  it("starts a verify job that succeeds, and 404s for an unknown id", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    const res = await api.call(`/api/backup/${id}/verify`, { method: "POST" });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    await api.runner.idle();
    expect(await (await api.call(`/api/backup/jobs/${jobId}`)).json()).toMatchObject({ kind: "verify", state: "succeeded", result: { ok: true, archive: { ok: true } } });
    expect((await api.call("/api/backup/weekly-20200101T000000Z-abcdef/verify", { method: "POST" })).status).toBe(404);
  });
});

describe("POST /api/backup/cleanup", () => {
  it("reports the plan without removing anything on a dry run", async () => {
    api = await makeTestApi({});
    const ids = [await backupNow(api, { type: "daily" }), await backupNow(api, { type: "daily" })];
    const res = await api.call("/api/backup/cleanup", { method: "POST", json: { dryRun: true } });
    expect(res.status).toBe(200);
    const out = (await res.json()) as { dryRun: boolean; keep: { id: string }[]; remove: { id: string }[]; removed: string[] };
    expect(out.dryRun).toBe(true);
    expect(out.removed).toEqual([]);
    expect([...out.keep, ...out.remove].map((d) => d.id).sort()).toEqual([...ids].sort());
    // The two backups are audited; a dry run adds nothing.
    expect((await readAudit(api.deps.engine.storage)).map((r) => r.action)).toEqual(["backup", "backup"]);
  });

  it("applies retention and audits the admin as the actor", async () => {
    api = await makeTestApi();
    await backupNow(api, { type: "daily" });
    const res = await api.call("/api/backup/cleanup", { method: "POST" });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    expect(res.headers.get("location")).toBe(`/api/backup/jobs/${jobId}`);
    await api.runner.idle();
    expect(await (await api.call(`/api/backup/jobs/${jobId}`)).json()).toMatchObject({ kind: "cleanup", state: "succeeded", actor: "admin@example.com", result: { dryRun: false, removed: [] } });
    const [record] = await readAudit(api.deps.engine.storage);
    expect(record).toMatchObject({ action: "cleanup", actor: "admin@example.com", result: "succeeded" });
  });

  it("refuses a dryRun that is not a boolean", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/backup/cleanup", { method: "POST", json: { dryRun: "yes" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Err).error.fields).toEqual([{ path: "dryRun", message: "must be true or false" }]);
  });
});

describe("GET /api/backup/jobs/:id", () => {
  it("answers 404 for an unknown job and 400 for a malformed id", async () => {
    api = await makeTestApi();
    const unknown = await api.call("/api/backup/jobs/job-20200101T000000Z-0123abcd");
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as Err).error.message).toContain("no job with id");
    const bad = await api.call("/api/backup/jobs/nope");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Err).error.fields![0]!.message).toContain("job-<YYYYMMDDTHHMMSSZ>-<8 hex>");
  });

  it("answers failed with worker_lost for a job left running by a dead worker, and status no longer lists it as running", async () => {
    api = await makeTestApi();
    const at = new Date(Date.now() - 10 * 60_000).toISOString();
    const id = newJobId(new Date(at));
    await saveJob(api.deps.engine.storage, { id, kind: "backup", state: "running", actor: "admin", createdAt: at, startedAt: at, updatedAt: at, backupId: "manual-x", request: { type: "manual" } });
    const status = (await (await api.call("/api/backup/status")).json()) as { lastBackupJob: { id: string; state: string; error?: string } };
    expect(status.lastBackupJob).toMatchObject({ id, state: "failed", error: expect.stringContaining(`last seen ${at}`) });
    const res = await api.call(`/api/backup/jobs/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: "failed", updatedAt: at, error: { code: "worker_lost", message: expect.stringContaining("worker was lost") } });
  });
});
