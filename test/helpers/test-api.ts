// Test fixtures for the API: an app over a real engine and job runner on a temp CRM, admin tokens, and captured logs.
import { SignJWT, type JWTPayload } from "jose";
import type { Hono } from "hono";
import type { Logger } from "../../core/engine.ts";
import { LocalJobRunner } from "../../core/jobs/local-runner.ts";
import { makeCrm, makeTestEngine, type CrmFixture } from "./crm.ts";
import { createApp } from "../../api/app.ts";
import type { ApiDeps, AppEnv } from "../../api/deps.ts";
import { streamFromStorage } from "../../api/download.ts";

export const TEST_SECRET = "test-secret-for-hs256-at-least-32-bytes!";

export interface TestApi {
  app: Hono<AppEnv>;
  deps: ApiDeps;
  runner: LocalJobRunner;
  crm: CrmFixture;
  /** Every line logged through engine.log, as JSON text. */
  logs: string[];
  /** An ADMIN token for admin@example.com, valid for an hour. */
  token: string;
  /** app.request with the admin token. */
  call(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

export function captureLogger(lines: string[]): Logger {
  const at = (level: string) => (msg: string, data?: Record<string, unknown>) => void lines.push(JSON.stringify({ level, msg, ...data }));
  return { info: at("info"), warn: at("warn"), error: at("error") };
}

export async function hsToken(claims: JWTPayload, opts: { secret?: string; expiresIn?: string | number | null } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt();
  if (opts.expiresIn !== null) jwt.setExpirationTime(opts.expiresIn ?? "1h");
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_SECRET));
}

export const adminClaims = { sub: "user-1", email: "admin@example.com", role: "ADMIN" };

export async function makeTestApi(overrides: Partial<ApiDeps> = {}, env: NodeJS.ProcessEnv = {}): Promise<TestApi> {
  const crm = makeCrm();
  const engine = makeTestEngine(crm.root, undefined, env);
  const logs: string[] = [];
  engine.log = captureLogger(logs);
  const runner = new LocalJobRunner(engine);
  const deps: ApiDeps = {
    engine,
    jobs: runner,
    auth: { jwtSecret: TEST_SECRET },
    download: streamFromStorage(engine.storage),
    notifications: { enabled: false, transport: "outbox", lastResult: () => null, sendTest: async () => ({ sent: true, transport: "outbox", detail: "written to the outbox" }) },
    scheduler: null,
    localDir: engine.config.backupDir,
    ...overrides,
  };
  const app = createApp(deps);
  const token = await hsToken(adminClaims);
  const call = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
    if (json !== undefined) headers.set("content-type", "application/json");
    return Promise.resolve(app.request(path, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) }));
  };
  return { app, deps, runner, crm, logs, token, call };
}

/** Starts a backup through the API and waits for it; returns the new backup's id. */
export async function backupNow(api: TestApi, body: Record<string, unknown> = {}): Promise<string> {
  const res = await api.call("/api/backup/create", { method: "POST", json: body });
  if (res.status !== 202) throw new Error(`create backup: ${res.status} ${await res.text()}`);
  const { backupId } = (await res.json()) as { backupId: string };
  await api.runner.idle();
  return backupId;
}
