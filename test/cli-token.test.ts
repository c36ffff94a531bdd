// `colab-backup token` through the real CLI, checked by the API's own auth: accepted while valid, refused once expired.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { TEST_SECRET, makeTestApi } from "./helpers/test-api.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { cli } from "./helpers/run-cli.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function callApi(secret: string, token: string): Promise<{ status: number; body: string }> {
  const api = await makeTestApi({ auth: { jwtSecret: secret } });
  const res = await api.app.request("/api/backup", { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.text() };
}

describe("colab-backup token", () => {
  it("signs an admin token with JWT_SECRET that the API accepts, and one the API refuses once its short ttl has passed", async () => {
    const cwd = tempDir("cli-token-");
    const env = { CRM_ROOT: makeCrm().root, JWT_SECRET: TEST_SECRET };
    const run = await cli(["token", "--ttl", "10m"], { cwd, env });
    expect(run.code, run.stderr).toBe(0);
    const token = run.stdout.trim();
    expect(run.stdout).toBe(`${token}\n`); // only the token on stdout: TOKEN=$(colab-backup token) works
    expect(run.stderr).toMatch(/Admin token signed with JWT_SECRET, valid until \d{4}-/);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ role: "ADMIN", email: "local-admin@localhost" });
    expect(claims.exp! - claims.iat!).toBe(600);
    expect((await callApi(TEST_SECRET, token)).status).toBe(200);
    // Signed with another secret, the API must refuse it (the test above proves the secret, not just the shape).
    expect((await callApi(`${TEST_SECRET}-other`, token)).status).toBe(401);

    const short = JSON.parse((await cli(["token", "--ttl", "1s", "--email", "ops@example.com", "--json"], { cwd, env })).stdout);
    expect(decodeJwt(short.token)).toMatchObject({ email: "ops@example.com" });
    expect(Date.parse(short.expiresAt)).toBe(decodeJwt(short.token).exp! * 1000);
    const wait = Date.parse(short.expiresAt) - Date.now() + 50;
    if (wait > 0) await sleep(wait); // at most about a second: the process start-up usually used it up already
    const late = await callApi(TEST_SECRET, short.token);
    expect(late.status).toBe(401);
    expect(late.body).toContain("the token has expired");
  }, 120_000);

  it("prints a sign-in link to the dashboard, and without JWT_SECRET signs with the local secret that serve uses", async () => {
    const cwd = tempDir("cli-token-");
    const store = path.join(cwd, "store");
    mkdirSync(store);
    const env = { CRM_ROOT: makeCrm().root, BACKUP_DIR: store, PORT: "8123" };
    const run = await cli(["token", "--link"], { cwd, env });
    expect(run.code, run.stderr).toBe(0);
    const m = /^http:\/\/127\.0\.0\.1:8123\/#token=(\S+)\n$/.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    expect(run.stderr).toContain(`the local secret in ${store}/.jwt-secret`);
    const secret = readFileSync(path.join(store, ".jwt-secret"), "utf8").trim();
    expect((await callApi(secret, m![1]!)).status).toBe(200);

    const origin = await cli(["token", "--link", "--json"], { cwd, env: { ...env, DASHBOARD_ORIGIN: "https://backup.example.com" } });
    expect(JSON.parse(origin.stdout).link).toMatch(/^https:\/\/backup\.example\.com\/#token=/);
    const url = await cli(["token", "--link", "--url", "https://crm.example.com/backup/"], { cwd, env });
    expect(url.stdout).toMatch(/^https:\/\/crm\.example\.com\/backup\/#token=/);
  }, 120_000);

  it.each([
    [["--ttl", "90"], '--ttl must be a number with a unit s, m or h, such as 30m or 1h; got "90"'],
    [["--ttl", "25h"], '--ttl must be at most 24h'],
    [["--ttl", "0s"], "--ttl must be at least 1s"],
    [["--url", "https://x.example.com"], "--url sets where a sign-in link points; add --link"],
    [["--link", "--url", "ftp://x"], "--url must be the dashboard's address"],
    [["--email", "nobody"], "--email must be an address"],
  ])("refuses %j with exit 2 and says why", async (args, message) => {
    const run = await cli(["token", ...args], { cwd: tempDir("cli-token-"), env: { CRM_ROOT: makeCrm().root, JWT_SECRET: TEST_SECRET } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe("");
  });

  it("refuses to sign when the API takes RS256 tokens from the CRM's key set", async () => {
    const run = await cli(["token"], { cwd: tempDir("cli-token-"), env: { CRM_ROOT: makeCrm().root, JWKS_URL: "https://crm.example.com/.well-known/jwks.json" } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("JWKS_URL is set, so the API accepts only RS256 tokens");
  });
});
