// The dashboard as deployed: built by infra/build-dashboard.mjs, served from another origin, in headless Chromium under its <meta> CSP.
/// <reference lib="dom" />
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintAdminToken } from "../../runtime/local-auth.ts";
import { buildRuntime } from "../../runtime/local.ts";
import { startServer, type Server } from "../../cli/serve.ts";
import { launchChromium, watchCsp } from "../helpers/browser.ts";
import { makeCrm, tempDir } from "../helpers/crm.ts";

const ROOT = path.join(import.meta.dirname, "..", "..");
const SECRET = "hosted-dashboard-secret-at-least-32-chars";
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };

let site: HttpServer;
let siteUrl: string;
let server: Server;
let browser: Browser;
const violations: string[] = [];

/** A plain static host, as S3/CloudFront is: files only, none of our headers. */
function staticHost(dir: string): Promise<HttpServer> {
  const s = createServer((req, res) => {
    const rel = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/$/, "/index.html");
    try {
      const body = readFileSync(path.join(dir, path.normalize(rel)));
      res.writeHead(200, { "content-type": TYPES[path.extname(rel)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve(s)));
}

async function openPage(url: string): Promise<Page> {
  const page = await browser.newPage();
  await watchCsp(page, violations);
  await page.goto(url);
  return page;
}

beforeAll(async () => {
  const out = tempDir("hosted-dashboard-");
  site = await staticHost(out);
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  const runtime = await buildRuntime({ cwd: tempDir("serve-"), env: { CRM_ROOT: makeCrm().root, JWT_SECRET: SECRET, DASHBOARD_ORIGIN: siteUrl, PATH: process.env.PATH } });
  server = await startServer(runtime, { port: 0, schedule: false });
  execFileSync(process.execPath, [path.join(ROOT, "infra", "build-dashboard.mjs")], {
    cwd: path.join(ROOT, "web"),
    env: { PATH: process.env.PATH, COLAB_BACKUP_API_URL: server.url, COLAB_BACKUP_DASHBOARD_OUT: out },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await new Promise((r) => site?.close(r));
});

describe("dashboard hosted apart from the API", () => {
  it("signs in and shows the status through CORS, with no CSP violation", async () => {
    const page = await openPage(`${siteUrl}/#token=${await mintAdminToken(SECRET)}`);
    await expect.poll(() => page.isVisible("#app")).toBe(true);
    await expect.poll(() => page.textContent("#health")).toContain("no successful backup exists yet");
    expect(violations).toEqual([]);
    await page.close();
  });

  it("cannot be pointed at another server with ?api=: the CSP blocks the call, so the token goes nowhere", async () => {
    let reached = 0;
    const other = createServer((_req, res) => (reached++, res.writeHead(200, { "access-control-allow-origin": "*" }).end("{}")));
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    try {
      const evil = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const page = await openPage(`${siteUrl}/?api=${encodeURIComponent(evil)}#token=${await mintAdminToken(SECRET)}`);
      await expect.poll(() => violations.some((v) => v.includes("connect-src"))).toBe(true);
      expect(reached).toBe(0);
      await page.close();
    } finally {
      await new Promise((r) => other.close(r));
    }
  });
});
