// API tests for health, status (with the dead-man's switch), test email, the audit trail of every action, the OpenAPI document, CORS and the error shape.
import { afterEach, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { isBackupId, newBackupId } from "../core/ids.ts";
import { verifyBackup } from "../core/verify.ts";
import { BACKUP_TYPES } from "../core/manifest.ts";
import { createApp } from "./app.ts";
import { backupNow, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

interface Status {
  backups: { total: number; byType: Record<string, number> };
  lastBackup: { id: string; result: string } | null;
  lastBackupJob: { state: string } | null;
  lastVerify: { backupId: string; at: string; actor: string } | null;
  storage: { usedBytes: number; freeBytes: number | null };
  scheduler: { initialized: boolean; timeZone: string; nextRuns: Record<string, string | null> };
  email: { enabled: boolean; transport: string; lastResult: unknown };
  running: { job: { id: string } | null; lock: unknown };
  health: { healthy: boolean; maxAgeHours: number; reasons: string[] };
}

describe("GET /api/health", () => {
  it("answers ok without a token", async () => {
    api = await makeTestApi();
    const res = await api.app.request("/api/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});

describe("GET /api/backup/status", () => {
  it("is unhealthy with no backups, and shows the schedules computed from config when no scheduler runs", async () => {
    api = await makeTestApi();
    const s = (await (await api.call("/api/backup/status")).json()) as Status;
    expect(s.health).toEqual({ healthy: false, maxAgeHours: 26, reasons: [expect.stringContaining("no successful backup")] });
    expect(s.lastBackup).toBeNull();
    expect(s.scheduler).toEqual({
      initialized: false,
      timeZone: "UTC",
      nextRuns: { daily: expect.stringMatching(/T02:00:00/), weekly: expect.any(String), monthly: expect.any(String), cleanup: expect.stringMatching(/T03:00:00/) },
    });
  });

  it("reports counts, the last backup and verify, storage, email, the running job, and health", async () => {
    const lastResult = { at: "2026-11-26T02:00:05.000Z", ok: true, detail: "sent to admin@example.com" };
    api = await makeTestApi({
      scheduler: { initialized: true, nextRuns: () => ({ daily: "2026-11-27T02:00:00.000Z" }) },
      notifications: { enabled: true, transport: "smtp", lastResult: () => lastResult, sendTest: async () => ({ sent: true, transport: "smtp", detail: "ok" }) },
    });
    const daily = await backupNow(api, { type: "daily" });
    const manual = await backupNow(api);
    const verify = (await (await api.call(`/api/backup/${daily}/verify`, { method: "POST" })).json()) as { jobId: string };
    await api.runner.idle();
    // A real backup finishes too fast to be caught reliably, so the job service reports one as running.
    const running = { ...(await api.runner.get(verify.jobId)), id: "job-20261126T020000Z-0000beef", kind: "backup" as const, state: "running" as const };
    const runner = api.runner;
    const jobs = { submitBackup: runner.submitBackup.bind(runner), submitRestore: runner.submitRestore.bind(runner), submitVerify: runner.submitVerify.bind(runner), get: runner.get.bind(runner), list: runner.list.bind(runner), submitCleanup: runner.submitCleanup.bind(runner), current: () => running };
    const app = createApp({ ...api.deps, jobs });

    const s = (await (await app.request("/api/backup/status", { headers: { authorization: `Bearer ${api.token}` } })).json()) as Status;
    expect(s.backups).toMatchObject({ total: 2, byType: { daily: 1, manual: 1, weekly: 0, monthly: 0, "pre-restore": 0 } });
    expect(s.lastBackup).toMatchObject({ id: manual, result: "succeeded" });
    expect(s.lastVerify).toMatchObject({ backupId: daily, actor: "admin@example.com" });
    expect(s.storage.usedBytes).toBeGreaterThan(0);
    expect(s.storage.freeBytes).toBeGreaterThan(0);
    expect(s.scheduler).toEqual({ initialized: true, timeZone: "UTC", nextRuns: { daily: "2026-11-27T02:00:00.000Z" } });
    expect(s.email).toEqual({ enabled: true, transport: "smtp", lastResult });
    expect(s.running.job).toMatchObject({ id: running.id, state: "running" });
    expect(s.health).toEqual({ healthy: true, maxAgeHours: 26, reasons: [] });
  });

  it("turns unhealthy once the newest backup is older than the limit", async () => {
    api = await makeTestApi({ healthMaxAgeHours: 2 });
    const id = await backupNow(api);
    const engine = api.deps.engine;
    const later = new Date(Date.now() + 3 * 3_600_000);
    engine.now = () => later;
    const s = (await (await api.call("/api/backup/status")).json()) as Status;
    expect(s.health.healthy).toBe(false);
    expect(s.health.reasons).toEqual([expect.stringMatching(new RegExp(`${id}\\) is 3 hours old, over the 2-hour limit`))]);
  });
});

describe("POST /api/backup/test-email", () => {
  it("answers 200 with the result when sent, and 502 when not", async () => {
    const actors: string[] = [];
    let sent = true;
    api = await makeTestApi({
      notifications: { enabled: true, transport: "smtp", lastResult: () => null, sendTest: async (actor) => (actors.push(actor), { sent, transport: "smtp", detail: sent ? "250 ok" : "connect ETIMEDOUT smtp.example.com:587" }) },
    });
    const ok = await api.call("/api/backup/test-email", { method: "POST" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ sent: true, transport: "smtp", detail: "250 ok" });
    sent = false;
    const failed = await api.call("/api/backup/test-email", { method: "POST" });
    expect(failed.status).toBe(502);
    expect(await failed.json()).toMatchObject({ error: { code: "email_not_sent", message: expect.stringContaining("ETIMEDOUT") }, result: { sent: false } });
    expect(actors).toEqual(["admin@example.com", "admin@example.com"]);
  });
});

describe("GET /api/backup/audit", () => {
  it("refuses a limit that is not a whole number in range", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/backup/audit?limit=0");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { fields: [{ path: "limit", message: "limit must be at least 1" }] } });
  });
});

describe("the audit trail", () => {
  it("records backups (failed ones too), verifies from the API and the CLI, and test emails, each with actor and outcome", async () => {
    let sent = true;
    api = await makeTestApi({ notifications: { enabled: false, transport: "outbox", lastResult: () => null, sendTest: async () => ({ sent, transport: "outbox", detail: sent ? "written" : "disk full" }) } });
    const engine = api.deps.engine;
    const id = await backupNow(api);
    await expect(runBackup(engine, { type: "manual", components: ["nope" as never], actor: "cli" })).rejects.toThrow(/unknown component "nope"/);
    await api.call(`/api/backup/${id}/verify`, { method: "POST" });
    await api.runner.idle();
    await api.call("/api/backup/test-email", { method: "POST" });
    sent = false;
    await api.call("/api/backup/test-email", { method: "POST" });
    const { items } = (await (await api.call("/api/backup/audit")).json()) as { items: { actor: string; action: string; backupId?: string; result: string; error?: string }[] };
    // Records made within one millisecond may list in either order, so the set is compared.
    const seen = items.map((a) => [a.action, a.actor, a.result]);
    expect(seen).toHaveLength(5);
    expect(seen).toEqual(expect.arrayContaining([
      ["backup", "admin@example.com", "succeeded"],
      ["backup", "cli", "failed"],
      ["verify", "admin@example.com", "succeeded"],
      ["test-email", "admin@example.com", "succeeded"],
      ["test-email", "admin@example.com", "failed"],
    ]));
    expect(items.find((a) => a.action === "backup" && a.result === "failed")!.error).toMatch(/unknown component "nope"/);
    expect(items.find((a) => a.action === "test-email" && a.result === "failed")!.error).toBe("disk full");

    // "Last verified" follows the audit trail, so a verify made by the CLI, with no job behind it, counts.
    const other = await backupNow(api);
    await verifyBackup(engine, other, undefined, { actor: "cli" });
    await verifyBackup(engine, id, undefined, { actor: "cli", quick: true }); // reads no contents, so it is not "verified"
    const s = (await (await api.call("/api/backup/status")).json()) as Status;
    expect(s.lastVerify).toMatchObject({ backupId: other, actor: "cli" });
    expect(s.email).toMatchObject({ enabled: false, transport: "outbox" });
  });
});

describe("errors", () => {
  it("hides an unexpected error behind a 500 without a stack, and logs it", async () => {
    api = await makeTestApi({
      notifications: { enabled: true, transport: "x", sendTest: async () => ({ sent: true, transport: "x", detail: "" }), lastResult: () => { throw new Error("boom: outbox unreadable"); } },
    });
    const res = await api.call("/api/backup/status");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "internal_error", message: "internal error; see the server log" } });
    expect(api.logs.some((l) => l.includes('"level":"error"') && l.includes("boom: outbox unreadable"))).toBe(true);
  });

  it("answers 404 in the same shape for an unknown route", async () => {
    api = await makeTestApi();
    const res = await api.call("/api/nothing-here");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});

describe("GET /api/openapi.json", () => {
  it("documents every route the app serves, with the bearer scheme", async () => {
    api = await makeTestApi();
    const doc = (await (await api.app.request("/api/openapi.json")).json()) as {
      openapi: string; paths: Record<string, Record<string, { security?: unknown }>>; components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toBe("3.1.0");
    const served = api.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(new Set(served)).toEqual(new Set(documented));
    expect(documented).toEqual(expect.arrayContaining([
      "get /api/backup", "post /api/backup/create", "get /api/backup/{id}/download", "delete /api/backup/{id}", "get /api/backup/status",
      "post /api/backup/restore", "post /api/backup/test-email", "post /api/backup/cleanup", "get /api/backup/jobs/{id}", "get /api/backup/audit",
      "get /api/backup/{id}", "post /api/backup/{id}/verify", "get /api/health", "get /api/openapi.json",
    ]));
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.paths["/api/backup/status"]!.get!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/api/health"]!.get!.security).toBeUndefined();
  });

  it("documents a backup id pattern that agrees with core's isBackupId", async () => {
    api = await makeTestApi();
    const doc = (await (await api.app.request("/api/openapi.json")).json()) as { paths: Record<string, Record<string, { parameters: { name: string; schema: { pattern: string } }[] }>> };
    const pattern = new RegExp(doc.paths["/api/backup/{id}"]!.get!.parameters.find((p) => p.name === "id")!.schema.pattern);
    const samples = [...BACKUP_TYPES.map((t) => newBackupId(t, new Date())), "daily-20261126T020000Z-1A2B3C", "hourly-20261126T020000Z-1a2b3c", "daily-20261126T020000Z-1a2b3", "../daily"];
    for (const id of samples) expect(pattern.test(id), id).toBe(isBackupId(id));
  });
});

describe("CORS", () => {
  const preflight = (origin: string) => ({
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
  });

  it("allows only the configured origin", async () => {
    api = await makeTestApi({ corsOrigin: "https://dash.example.com" });
    const ok = await api.app.request("/api/backup/create", preflight("https://dash.example.com"));
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
    expect(ok.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");

    const other = await api.app.request("/api/backup/create", preflight("https://evil.example.com"));
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const get = await api.call("/api/backup", { headers: { origin: "https://evil.example.com" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
    const mine = await api.call("/api/backup", { headers: { origin: "https://dash.example.com" } });
    expect(mine.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
    expect(mine.headers.get("access-control-expose-headers")).toContain("Retry-After");
  });

  it("sends no CORS headers when no origin is configured", async () => {
    api = await makeTestApi();
    const res = await api.app.request("/api/backup/create", preflight("https://dash.example.com"));
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
