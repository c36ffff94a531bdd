// Download in a real headless Chromium: a click navigates to a short-lived link (one-time from `serve`, presigned S3 from the hosted dashboard) and the file is saved; the page never fetches the archive.
/// <reference lib="dom" />
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { chromium, type Browser, type Page, type Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { readManifest } from "../../core/catalog.ts";
import type { Engine } from "../../core/engine.ts";
import { exportStream } from "../../core/v2/export.ts";
import { mintAdminToken } from "../../runtime/local-auth.ts";
import { buildRuntime } from "../../runtime/local.ts";
import { startServer, type Server } from "../../cli/serve.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { awsEnv } from "../localstack/config.ts";
import { adminS3, deletePrefix } from "../localstack/resources.ts";

const ROOT = path.join(import.meta.dirname, "..", "..");
const SECRET = "download-browser-secret-at-least-32-chars";
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
const ls = inject("localstack");
const S3_PREFIX = `dashboard-download-${randomBytes(4).toString("hex")}/`;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let browser: Browser;
const servers: Server[] = [];
let site: HttpServer | undefined;

async function expectedSha(engine: Engine, id: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await exportStream(engine.storage, await readManifest(engine.storage, id))) chunks.push(c as Buffer);
  return sha256(Buffer.concat(chunks));
}

/** Clicks Download on the row and returns the saved file's SHA-256 and every request the click caused. */
async function clickDownload(page: Page, id: string): Promise<{ sha: string; filename: string; url: string; requests: Request[] }> {
  const requests: Request[] = [];
  page.on("request", (r) => requests.push(r));
  const before = page.url();
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), page.click(`button[aria-label="Download ${id}"]`)]);
  const file = path.join(tempDir("dl-"), "a.tar.gz");
  await download.saveAs(file);
  // The download was a navigation that became a file: the dashboard is still where it was.
  expect(page.url()).toBe(before);
  // A buffered download would come from a blob: URL; this is the link the page navigated to.
  return { sha: sha256(readFileSync(file)), filename: download.suggestedFilename(), url: download.url(), requests };
}

/** A plain static host, as S3/CloudFront is for the deployed dashboard; serves whichever build `siteDir` names. */
let siteDir = "";
function staticHost(): Promise<HttpServer> {
  const s = createServer((req, res) => {
    const rel = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/$/, "/index.html");
    try {
      const body = readFileSync(path.join(siteDir, path.normalize(rel)));
      res.writeHead(200, { "content-type": TYPES[path.extname(rel)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve(s)));
}

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  if (site) await new Promise((r) => site!.close(r));
  await deletePrefix(adminS3(ls), ls.bucket, S3_PREFIX);
});

describe("dashboard download", () => {
  it("from `serve` (local store): a v2 backup is saved through a one-time link the browser navigates to", async () => {
    const crmRoot = makeCrm().root;
    const runtime = await buildRuntime({ cwd: tempDir("serve-"), env: { CRM_ROOT: crmRoot, JWT_SECRET: SECRET, BACKUP_FORMAT: "v2", PATH: process.env.PATH } });
    const server = await startServer(runtime, { port: 0, schedule: false });
    servers.push(server);
    const out = await runBackup(runtime.engine, { type: "manual" });
    if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    const id = out.manifest.id;

    const page = await browser.newPage({ acceptDownloads: true });
    await page.goto(`${server.url}/#token=${await mintAdminToken(SECRET)}`);
    await page.waitForSelector(`button[aria-label="Download ${id}"]`);
    const got = await clickDownload(page, id);
    expect(got.filename).toBe(`${id}.tar.gz`);
    expect(got.sha).toBe(await expectedSha(runtime.engine, id));
    expect(got.url).toMatch(new RegExp(`^${server.url}/api/download/[A-Za-z0-9_-]{43}$`));
    // The page asked for a link only; it never fetched the archive itself.
    expect(got.requests.filter((r) => r.resourceType() === "fetch").map((r) => new URL(r.url()).pathname)).toEqual([`/api/backup/${id}/download-link`]);
    // The link was spent by that download.
    expect((await fetch(got.url)).status).toBe(404);
    await page.close();
  });

  it.each(["v1", "v2"] as const)("from the hosted dashboard (S3 store on LocalStack): a %s backup is saved from a presigned URL by navigation", async (format) => {
    const out = tempDir("hosted-download-");
    siteDir = out;
    site ??= await staticHost();
    const siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    const env = { ...awsEnv(ls), BACKUP_STORAGE: "s3", BACKUP_S3_PREFIX: `${S3_PREFIX}${format}/`, BACKUP_FORMAT: format, CRM_ROOT: makeCrm().root, JWT_SECRET: SECRET, DASHBOARD_ORIGIN: siteUrl, PATH: process.env.PATH };
    const runtime = await buildRuntime({ cwd: tempDir("serve-"), env });
    const server = await startServer(runtime, { port: 0, schedule: false });
    servers.push(server);
    execFileSync(process.execPath, [path.join(ROOT, "infra", "build-dashboard.mjs")], {
      cwd: path.join(ROOT, "web"),
      env: { PATH: process.env.PATH, COLAB_BACKUP_API_URL: server.url, COLAB_BACKUP_DASHBOARD_OUT: out },
    });
    const backup = await runBackup(runtime.engine, { type: "manual" });
    if (backup.skipped) throw new Error("backup skipped");
    const id = backup.manifest.id;

    const page = await browser.newPage({ acceptDownloads: true });
    // The hosted dashboard runs under its <meta> CSP (connect-src: the API only); navigating to S3 must not trip it.
    const violations: string[] = [];
    await page.addInitScript(() => document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`)));
    page.on("console", (m) => void (/CSP violation|Content Security Policy/i.test(m.text()) && violations.push(m.text())));
    await page.goto(`${siteUrl}/#token=${await mintAdminToken(SECRET)}`);
    await page.waitForSelector(`button[aria-label="Download ${id}"]`);
    const got = await clickDownload(page, id);
    expect(got.filename).toBe(`${id}.tar.gz`);
    expect(got.sha).toBe(await expectedSha(runtime.engine, id));
    expect(got.url.startsWith(`${ls.endpoint}/`)).toBe(true);
    expect(got.url).toContain(format === "v1" ? `/${S3_PREFIX}v1/manual/${id}.tar.gz?` : `/${S3_PREFIX}v2/exports/${id}.tar.gz?`);
    // Bytes never passed through the API or the page: the page fetched the link (and, for v2, followed the export job),
    // never the archive from S3 or from the API.
    const fetched = got.requests.filter((r) => r.resourceType() === "fetch").map((r) => r.url());
    expect(fetched).toContain(`${server.url}/api/backup/${id}/download-link`);
    expect(fetched.filter((u) => u.startsWith(ls.endpoint) || /\/download(\/|$)/.test(new URL(u).pathname))).toEqual([]);
    if (format === "v2") expect(fetched.some((u) => u.includes("/api/backup/jobs/job-"))).toBe(true);
    expect(violations).toEqual([]);
    await page.close();
  });
});
