// Auth tests: every way a bearer token can be wrong, for an HS256 deployment and an RS256/JWKS one, and that tokens are never logged.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors.ts";
import { createApp } from "./app.ts";
import { makeVerifier } from "./auth.ts";
import { AuthFailureLimiter } from "./auth-rate-limit.ts";
import { TEST_SECRET, adminClaims, hsToken, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

async function rsToken(key: CryptoKey, claims: Record<string, unknown>, opts: { kid?: string; exp?: string } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: opts.kid ?? "k1" }).setIssuedAt().setExpirationTime(opts.exp ?? "1h").sign(key);
}

async function expect401(api: TestApi, token: string | null, reason: RegExp) {
  const res = await api.app.request("/api/backup", token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="colab-backup"/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("unauthorized");
  expect(body.error.message).toMatch(reason);
  return res;
}

describe("HS256 deployment", () => {
  let api: TestApi;
  const used: string[] = [];
  const use = (t: string) => (used.push(t), t);
  beforeAll(async () => {
    // This suite fails authentication dozens of times on purpose; the failed sign-in limit has its own tests.
    api = await makeTestApi({ authLimiter: new AuthFailureLimiter({ maxFailures: 1000 }) });
  });
  afterAll(() => {
    // Whatever was accepted or rejected, no token (nor its signature) may reach the log.
    const logged = api.logs.join("\n");
    expect(api.logs.length).toBeGreaterThan(5);
    for (const t of [...used, api.token]) {
      expect(logged).not.toContain(t);
      expect(logged).not.toContain(t.split(".")[2] || t);
    }
  });

  it("accepts an ADMIN token with exp", async () => {
    expect((await api.call("/api/backup")).status).toBe(200);
  });

  it("asks for a bearer token when there is none, or another scheme is used", async () => {
    const res = await expect401(api, null, /Authorization: Bearer/);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="colab-backup"');
    const basic = await api.app.request("/api/backup/status", { headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } });
    expect(basic.status).toBe(401);
  });

  it("refuses an unsigned token (alg none), with or without a signature part", async () => {
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...adminClaims, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
    await expect401(api, use(`${none}.`), /not signed with HS256/);
    await expect401(api, use(none), /malformed/);
  });

  it("refuses a token signed with another secret", async () => {
    await expect401(api, use(await hsToken(adminClaims, { secret: "another-secret-of-sufficient-length-000" })), /signature does not match/);
  });

  it("refuses an RS256 token", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const res = await expect401(api, use(await rsToken(privateKey, adminClaims)), /not signed with HS256/);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("refuses an expired token and one without exp", async () => {
    await expect401(api, use(await hsToken(adminClaims, { expiresIn: Math.floor(Date.now() / 1000) - 60 })), /expired/);
    await expect401(api, use(await hsToken(adminClaims, { expiresIn: null })), /no exp/);
  });

  it("refuses a token whose payload was altered", async () => {
    const user = use(await hsToken({ ...adminClaims, role: "USER" }));
    const [h, p, s] = user.split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString("utf8")) as Record<string, unknown>;
    await expect401(api, use(`${h}.${b64({ ...claims, role: "ADMIN" })}.${s}`), /signature does not match/);
  });

  it("refuses garbage", async () => {
    await expect401(api, use("not-a-jwt"), /malformed/);
  });

  it("answers 403 to a valid token of a non-admin", async () => {
    const res = await api.app.request("/api/backup/status", { headers: { authorization: `Bearer ${use(await hsToken({ ...adminClaims, role: "USER" }))}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toEqual({ code: "forbidden", message: expect.stringContaining("has role USER") });
  });

  it("protects every /api/backup route, and leaves health and the OpenAPI document open", async () => {
    for (const [method, path] of [["GET", "/api/backup/status"], ["POST", "/api/backup/create"], ["DELETE", "/api/backup/manual-20200101T000000Z-abcdef"], ["GET", "/api/backup/jobs/x"], ["POST", "/api/backup/cleanup"]] as const) {
      expect((await api.app.request(path, { method })).status, `${method} ${path}`).toBe(401);
    }
    expect((await api.app.request("/api/health")).status).toBe(200);
    expect((await api.app.request("/api/openapi.json")).status).toBe(200);
  });
});

describe("issuer and audience", () => {
  it("are checked when configured", async () => {
    const api = await makeTestApi({ auth: { jwtSecret: TEST_SECRET, issuer: "https://crm.example.com", audience: "colab-backup" } });
    const good = await new SignJWT(adminClaims).setProtectedHeader({ alg: "HS256" }).setIssuer("https://crm.example.com").setAudience("colab-backup").setExpirationTime("1h").sign(new TextEncoder().encode(TEST_SECRET));
    expect((await api.call("/api/backup", { headers: { authorization: `Bearer ${good}` } })).status).toBe(200);
    await expect401(api, await hsToken(adminClaims), /iss|aud/);
  });
});

describe("RS256 deployment with a JWKS", () => {
  let server: Server;
  let jwksUrl: string;
  let keys: CryptoKeyPair;
  let served = true;
  beforeAll(async () => {
    keys = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    server = createServer((req, res) => {
      if (!served) return void res.writeHead(503).end();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("accepts an ADMIN token signed by a key in the set, and refuses every wrong one", async () => {
    const api = await makeTestApi({ auth: { jwksUrl } });
    const ok = await api.call("/api/backup", { headers: { authorization: `Bearer ${await rsToken(keys.privateKey, adminClaims)}` } });
    expect(ok.status).toBe(200);

    // The classic confusion attack: the public key's text used as an HMAC secret.
    const pem = await exportSPKI(keys.publicKey);
    const confused = await new SignJWT(adminClaims).setProtectedHeader({ alg: "HS256", kid: "k1" }).setExpirationTime("1h").sign(new TextEncoder().encode(pem));
    await expect401(api, confused, /not signed with RS256/);
    await expect401(api, await hsToken(adminClaims), /not signed with RS256/);

    const other = await generateKeyPair("RS256");
    await expect401(api, await rsToken(other.privateKey, adminClaims), /signature does not match/);
    await expect401(api, await rsToken(keys.privateKey, adminClaims, { kid: "unknown" }), /no key in the CRM's key set/);
    await expect401(api, await rsToken(keys.privateKey, adminClaims, { exp: "-1m" }), /expired/);
    const none = `${b64({ alg: "none" })}.${b64({ ...adminClaims, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
    await expect401(api, none, /not signed with RS256/);

    const user = await api.app.request("/api/backup", { headers: { authorization: `Bearer ${await rsToken(keys.privateKey, { ...adminClaims, role: "USER" })}` } });
    expect(user.status).toBe(403);
  });

  it("answers 503 when the key set cannot be fetched", async () => {
    served = false;
    try {
      const api = await makeTestApi({ auth: { jwksUrl } });
      const res = await api.call("/api/backup", { headers: { authorization: `Bearer ${await rsToken(keys.privateKey, adminClaims)}` } });
      expect(res.status).toBe(503);
      expect(api.logs.join("\n")).toContain("cannot read the CRM's key set");
    } finally {
      served = true;
    }
  });
});

describe("auth configuration", () => {
  it("refuses to build an app with no way, or two ways, to verify tokens", async () => {
    const { deps } = await makeTestApi();
    expect(() => createApp({ ...deps, auth: {} })).toThrow(ConfigError);
    expect(() => createApp({ ...deps, auth: { jwtSecret: TEST_SECRET, jwksUrl: "https://crm.example.com/jwks.json" } })).toThrow(/not both/);
    expect(() => createApp({ ...deps, auth: { jwksUrl: "not a url" } })).toThrow(/not a URL/);
  });

  it("refuses a key set over plain http except on loopback", async () => {
    const { deps } = await makeTestApi();
    expect(() => makeVerifier({ jwksUrl: "http://crm.example.com/.well-known/jwks.json" })).toThrow(ConfigError);
    expect(() => makeVerifier({ jwksUrl: "http://crm.example.com/.well-known/jwks.json" })).toThrow(/jwksUrl "http:\/\/crm\.example\.com\/\.well-known\/jwks\.json" uses plain http to crm\.example\.com; use https/);
    expect(() => createApp({ ...deps, auth: { jwksUrl: "http://10.0.0.5/jwks.json" } })).toThrow(/use https/);
    expect(() => makeVerifier({ jwksUrl: "file:///etc/jwks.json" })).toThrow(/not an http\(s\) URL/);
    for (const ok of ["https://crm.example.com/jwks.json", "http://localhost:3001/jwks.json", "http://127.0.0.1/jwks.json", "http://[::1]/jwks.json"]) {
      expect(makeVerifier({ jwksUrl: ok }).algorithm, ok).toBe("RS256");
    }
  });
});
