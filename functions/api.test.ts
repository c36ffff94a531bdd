// The API Lambda adapter, fed real API Gateway HTTP API (payload format 2.0) events.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { APIGatewayProxyResult, LambdaEvent } from "hono/aws-lambda";
import { tempDir } from "../test/helpers/crm.ts";
import { backupNow, makeTestApi } from "../test/helpers/test-api.ts";
import { handler, makeHandler } from "./api.ts";

/** An event as API Gateway sends it for `$default` with payload format 2.0. */
function httpApiEvent(method: string, rawPath: string, opts: { rawQueryString?: string; headers?: Record<string, string>; body?: string; sourceIp?: string } = {}): LambdaEvent {
  const query = opts.rawQueryString ?? "";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: query,
    headers: {
      accept: "application/json",
      "accept-encoding": "gzip, deflate, br",
      "content-length": String(opts.body?.length ?? 0),
      host: "abc123.execute-api.eu-central-1.amazonaws.com",
      "user-agent": "curl/8.5.0",
      "x-amzn-trace-id": "Root=1-6745f0a1-0a1b2c3d4e5f60718293a4b5",
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
      ...opts.headers,
    },
    ...(query ? { queryStringParameters: Object.fromEntries(new URLSearchParams(query)) } : {}),
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.eu-central-1.amazonaws.com",
      domainPrefix: "abc123",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: opts.sourceIp ?? "203.0.113.7", userAgent: "curl/8.5.0" },
      requestId: "CZr3sjaLFiAEJvQ=",
      routeKey: "$default",
      stage: "$default",
      time: "26/Nov/2026:12:00:00 +0000",
      timeEpoch: 1795694400000,
    },
    body: opts.body ?? null,
    isBase64Encoded: false,
    // hono's type demands requestContext.authorizer and .authentication, which API Gateway leaves out when no authorizer is attached.
  } as unknown as LambdaEvent;
}

describe("makeHandler", () => {
  it("answers GET /api/health with a payload 2.0 result", async () => {
    const api = await makeTestApi();
    const res = (await makeHandler(api.deps)(httpApiEvent("GET", "/api/health"))) as APIGatewayProxyResult;
    expect(res).toMatchObject({ statusCode: 200, isBase64Encoded: false, headers: { "content-type": "application/json" } });
    expect(JSON.parse(res.body)).toEqual({ ok: true });
  });

  it("answers an authenticated GET /api/backup with a query string, and 401s without the token", async () => {
    const api = await makeTestApi();
    const id = await backupNow(api);
    const handle = makeHandler(api.deps);
    const res = (await handle(httpApiEvent("GET", "/api/backup", { rawQueryString: "type=manual&pageSize=1", headers: { authorization: `Bearer ${api.token}` } }))) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(200);
    expect(res.headers?.["content-type"]).toBe("application/json");
    expect(JSON.parse(res.body)).toMatchObject({ total: 1, page: 1, pageSize: 1, items: [{ id, type: "manual" }] });

    const anon = (await handle(httpApiEvent("GET", "/api/backup"))) as APIGatewayProxyResult;
    expect(anon.statusCode).toBe(401);
    expect(anon.headers?.["www-authenticate"]).toBe('Bearer realm="colab-backup"');
  });

  it("passes a JSON body through to POST /api/backup/create and returns 202 with Location", async () => {
    const api = await makeTestApi();
    const body = JSON.stringify({ type: "manual", description: "via API Gateway" });
    const res = (await makeHandler(api.deps)(
      httpApiEvent("POST", "/api/backup/create", { body, headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json" } }),
    )) as APIGatewayProxyResult;
    await api.runner.idle();
    expect(res.statusCode).toBe(202);
    const out = JSON.parse(res.body) as { jobId: string };
    expect(res.headers?.location).toBe(`/api/backup/jobs/${out.jobId}`);
  });
});

describe("makeHandler: failed sign-ins", () => {
  it("are counted per API Gateway sourceIp, which an X-Forwarded-For header cannot change", async () => {
    const api = await makeTestApi();
    const handle = makeHandler(api.deps);
    const call = async (sourceIp: string, token: string, xff = sourceIp) =>
      (await handle(httpApiEvent("GET", "/api/backup", { sourceIp, headers: { authorization: `Bearer ${token}`, "x-forwarded-for": xff } }))) as APIGatewayProxyResult;
    for (let i = 0; i < 10; i++) expect((await call("198.51.100.23", "not-a-jwt")).statusCode).toBe(401);
    const limited = await call("198.51.100.23", api.token, "192.0.2.1");
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers?.["retry-after"])).toBeGreaterThan(0);
    expect(JSON.parse(limited.body).error.message).toContain("from 198.51.100.23");
    expect((await call("203.0.113.7", api.token)).statusCode).toBe(200);
  });

  it("carries the security headers and refuses an oversized body with 413", async () => {
    const api = await makeTestApi();
    const res = (await makeHandler(api.deps)(
      httpApiEvent("POST", "/api/backup/create", { body: JSON.stringify({ description: "x".repeat(70_000) }), headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json" } }),
    )) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(413);
    expect(res.headers).toMatchObject({ "cache-control": "no-store", "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer" });
  });
});

describe("handler: a misconfigured function", () => {
  afterEach(() => vi.unstubAllEnvs());

  /** Calls the real entry point, which builds its deps from process.env as on Lambda. */
  async function answer(path = "/api/backup") {
    const res = (await handler(httpApiEvent("GET", path, { headers: { authorization: "Bearer x" } }))) as APIGatewayProxyResult;
    return { status: res.statusCode, body: JSON.parse(res.body) as { error: { code: string; message: string } } };
  }

  it("answers 503 config_error naming the missing setting, on every path, not API Gateway's bare 500", async () => {
    for (const path of ["/api/backup", "/api/health"]) {
      const { status, body } = await answer(path);
      expect(status, path).toBe(503);
      expect(body.error.code).toBe("config_error");
      expect(body.error.message).toMatch(/^the server is misconfigured: start API: BACKUP_EVENT_BUS must name the event bus/);
    }
  });

  it("names the JwtSecret link and how to set it when the function has no JWT secret", async () => {
    // Everything else in place (S3 store, bus), as infra/ sets it; no JWT_SECRET, no JWKS_URL, and no JwtSecret link.
    vi.stubEnv("BACKUP_STORAGE", "s3");
    vi.stubEnv("BACKUP_BUCKET", "colab-backups-test");
    vi.stubEnv("BACKUP_EVENT_BUS", "colab-backup-events");
    vi.stubEnv("BACKUP_DIR", tempDir("api-fn-"));
    vi.stubEnv("JWT_SECRET", undefined);
    vi.stubEnv("JWKS_URL", undefined);
    const { status, body } = await answer();
    expect(status).toBe(503);
    expect(body.error.message).toMatch(/start API: no JWT secret: the JwtSecret link is missing .* `npx sst secret set JwtSecret <secret> --stage <stage>`/);
  });
});
