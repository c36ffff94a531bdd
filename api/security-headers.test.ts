// Security headers on every /api answer (successes, auth failures, validation errors, 404s, 500s, preflights) and the dashboard's CSP.
import { afterEach, describe, expect, it } from "vitest";
import { dashboardCsp } from "./security-headers.ts";
import { makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

function expectApiHeaders(res: Response, label: string): void {
  expect(res.headers.get("cache-control"), label).toBe("no-store");
  expect(res.headers.get("x-content-type-options"), label).toBe("nosniff");
  expect(res.headers.get("x-frame-options"), label).toBe("DENY");
  expect(res.headers.get("referrer-policy"), label).toBe("no-referrer");
  expect(res.headers.get("content-security-policy"), label).toBe("default-src 'none'; frame-ancestors 'none'");
}

describe("API security headers", () => {
  it("are on every kind of answer, errors included", async () => {
    api = await makeTestApi({
      corsOrigin: "https://dash.example.com",
      notifications: { enabled: true, transport: "x", sendTest: async () => ({ sent: true, transport: "x", detail: "" }), lastResult: () => { throw new Error("boom"); } },
    });
    const answers: [string, Promise<Response>, number][] = [
      ["health", Promise.resolve(api.app.request("/api/health")), 200],
      ["openapi", Promise.resolve(api.app.request("/api/openapi.json")), 200],
      ["list", api.call("/api/backup"), 200],
      ["create", api.call("/api/backup/create", { method: "POST", json: {} }), 202],
      ["no token", Promise.resolve(api.app.request("/api/backup")), 401],
      ["bad input", api.call("/api/backup/audit?limit=0"), 400],
      ["bad json", api.call("/api/backup/create", { method: "POST", headers: { "content-type": "application/json" }, body: "{oops" }), 400],
      ["unknown backup", api.call("/api/backup/daily-20261126T020000Z-1a2b3c"), 404],
      ["unknown route", api.call("/api/nothing-here"), 404],
      ["bug", api.call("/api/backup/status"), 500],
      ["preflight", Promise.resolve(api.app.request("/api/backup/create", { method: "OPTIONS", headers: { origin: "https://dash.example.com", "access-control-request-method": "POST" } })), 204],
    ];
    for (const [label, pending, status] of answers) {
      const res = await pending;
      expect(res.status, label).toBe(status);
      expectApiHeaders(res, label);
    }
  });
});

describe("dashboardCsp", () => {
  it("allows only the dashboard's own files, no framing, and API calls to its origin plus the configured API", () => {
    const csp = dashboardCsp(["https://abc.execute-api.eu-central-1.amazonaws.com/some/path"]);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("connect-src 'self' https://abc.execute-api.eu-central-1.amazonaws.com;");
    expect(dashboardCsp()).toContain("connect-src 'self';");
  });
});
