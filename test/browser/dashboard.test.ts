// The dashboard in a real headless Chromium against `serve`: sign in, back up, download, restore, chart, phone width, damaged store.
/// <reference lib="dom" />
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { listBackups } from "../../core/catalog.ts";
import { archiveKey, manifestKey } from "../../core/ids.ts";
import { mintAdminToken } from "../../cli/local-auth.ts";
import { buildRuntime } from "../../cli/runtime.ts";
import { startServer, type Server } from "../../cli/serve.ts";
import { makeCrm, tempDir } from "../helpers/crm.ts";

const ARTIFACTS = path.join(import.meta.dirname, "..", "..", "test-artifacts");
const SECRET = "browser-test-secret-that-is-at-least-32-chars";

let browser: Browser;
let server: Server;
let page: Page;
let crmRoot: string;
let runtime: Awaited<ReturnType<typeof buildRuntime>>;
/** Every Content-Security-Policy violation any page reported, from the DOM event and from the console. */
const cspViolations: string[] = [];

/** The dashboard must run under its CSP: record whatever the policy blocks, so a test can demand there was nothing. */
async function watchCsp(p: Page): Promise<void> {
  await p.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
  });
  p.on("console", (m) => {
    if (m.type() === "error" && /CSP violation|Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  crmRoot = makeCrm().root;
  runtime = await buildRuntime({ cwd: tempDir("serve-"), env: { CRM_ROOT: crmRoot, JWT_SECRET: SECRET, PATH: process.env.PATH } });
  server = await startServer(runtime, { port: 0 });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ acceptDownloads: true });
  await watchCsp(page);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("dashboard", () => {
  it("is served with a Content-Security-Policy that blocks inline script, and a watcher that sees violations", async () => {
    const res = await page.goto(server.url + "/");
    const csp = res!.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res!.headers()["x-frame-options"]).toBe("DENY");
    // Proves the watcher works (and that the policy holds): an injected inline script must be blocked and reported.
    await page.evaluate(() => document.head.append(Object.assign(document.createElement("script"), { textContent: "window.injected = true" })));
    await expect.poll(() => cspViolations.length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { injected?: boolean }).injected)).toBeUndefined();
    cspViolations.length = 0;
  });

  it("asks for a token, refuses a non-admin one, and signs an admin in", async () => {
    await page.goto(server.url + "/");
    await expect.poll(() => page.isVisible("#sign-in")).toBe(true);
    const { SignJWT } = await import("jose");
    const userToken = await new SignJWT({ role: "USER" }).setProtectedHeader({ alg: "HS256" }).setSubject("u1").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
    await page.fill("#token-input", userToken);
    await page.click("#sign-in-form button[type=submit]");
    await expect.poll(() => page.textContent("#notice")).toContain("only admins");

    const admin = await mintAdminToken(SECRET, { email: "ada@colab.example" });
    await page.goto(`${server.url}/#token=${admin}`);
    await expect.poll(() => page.isVisible("#app")).toBe(true);
    expect(new URL(page.url()).hash).toBe("");
    await expect.poll(() => page.textContent("#health")).toContain("Unhealthy: no successful backup exists yet");
  });

  it("creates a backup with a description and shows it in the list, the chart and the health banner", async () => {
    await page.fill("#create-description", "before the upgrade");
    await page.click("#create-button");
    await expect.poll(() => page.textContent("#notice"), { timeout: 30_000 }).toMatch(/Backup manual-\S+ succeeded/);
    await expect.poll(() => page.locator("#backups tbody tr[data-id]").count()).toBe(1);
    expect(await page.textContent("#backups tbody tr")).toContain("before the upgrade");
    await expect.poll(() => page.textContent("#health")).toContain("Healthy");
    expect(await page.locator("#chart svg circle").count()).toBe(1);
    expect(await page.textContent("#audit tbody")).toBe(""); // backups themselves are not audited; restores and deletes are
  });

  it("downloads the archive with the SHA-256 in its manifest", async () => {
    const [m] = await listBackups(runtime.engine.storage);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(`button[aria-label="Download ${m!.id}"]`)]);
    expect(download.suggestedFilename()).toBe(`${m!.id}.tar.gz`);
    const file = path.join(tempDir("dl-"), "a.tar.gz");
    await download.saveAs(file);
    if (m!.formatVersion !== 1) throw new Error("expected a format 1 (tar.gz) backup, the default");
    expect(createHash("sha256").update(readFileSync(file)).digest("hex")).toBe(m!.archive.sha256);
  });

  it("runs a restore end to end: components, impact, typed token, progress, result", async () => {
    const [m] = await listBackups(runtime.engine.storage);
    writeFileSync(path.join(crmRoot, "uploads/a.txt"), "damaged after the backup");
    await page.click(`button[aria-label="Restore ${m!.id}"]`);
    await page.check('#restore-components input[value="uploads"]');
    expect(await page.textContent("#restore-impact")).toMatch(/Replaces uploads: the whole uploads folder, with the backup's 5 files/);
    expect(await page.isDisabled("#restore-submit")).toBe(true);
    await page.fill("#restore-confirm", "confirm_restore");
    expect(await page.isDisabled("#restore-submit")).toBe(true);
    await page.fill("#restore-confirm", "CONFIRM_RESTORE");
    await page.click("#restore-submit");
    await expect.poll(() => page.textContent("#notice"), { timeout: 30_000 }).toContain(`Restore from ${m!.id} succeeded`);
    expect(readFileSync(path.join(crmRoot, "uploads/a.txt"), "utf8")).toBe("alpha\n");
    await expect.poll(() => page.textContent("#audit tbody")).toContain("ada@colab.example");
    expect(await page.textContent("#job-detail")).toMatch(/pre-restore-/);
    await expect.poll(() => page.locator("#chart svg circle").count()).toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
  });

  it("previews cleanup, deletes with confirmation, and sends a test email", async () => {
    await page.click("#cleanup-preview");
    await expect.poll(() => page.textContent("#cleanup-result")).toContain("Nothing to remove");
    await page.click("#test-email");
    await expect.poll(() => page.textContent("#notice")).toContain("Test email sent via outbox");
    const pre = (await listBackups(runtime.engine.storage, "pre-restore"))[0]!;
    await page.click(`button[aria-label="Delete ${pre.id}"]`);
    await page.click("#delete-confirm");
    await expect.poll(() => page.textContent("#notice")).toContain(`Deleted ${pre.id}`);
    expect((await listBackups(runtime.engine.storage, "pre-restore")).length).toBe(0);
  });

  it("labels every control, works by keyboard and fits a phone screen; also served at /frontend/backup.html", async () => {
    const unlabeled = await page.evaluate(() =>
      Array.from(document.querySelectorAll("input, select, textarea")).filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute("aria-label")).map((el) => el.id || el.outerHTML),
    );
    expect(unlabeled).toEqual([]);
    await page.focus("#create-description");
    await page.keyboard.type("via keyboard");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.textContent("#notice"), { timeout: 30_000 }).toMatch(/Backup manual-\S+ succeeded/);

    const phone = await browser.newPage({ viewport: { width: 375, height: 740 } });
    await watchCsp(phone);
    await phone.goto(`${server.url}/frontend/backup.html#token=${await mintAdminToken(SECRET)}`);
    await expect.poll(() => phone.isVisible("#app")).toBe(true);
    await expect.poll(() => phone.locator("#backups tbody tr[data-id]").count()).toBeGreaterThan(0);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: path.join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });
    await phone.close();
  });

  it("shows a damaged manifest under the list with its reason, turns unhealthy, and deletes it on request", async () => {
    const id = "daily-20991231T020000Z-aaaaaa";
    await runtime.engine.storage.put(manifestKey(id), "{not json");
    await runtime.engine.storage.put(archiveKey(id), "an archive whose manifest broke");
    await page.reload();
    await expect.poll(() => page.isVisible("#store-problems")).toBe(true);
    expect(await page.textContent("#store-problem-list")).toContain(`Damaged manifest daily/${id}.json: it is not valid JSON`);
    await expect.poll(() => page.textContent("#health")).toContain("1 damaged manifest in the store");
    await page.click(`#store-problem-list button[aria-label="Delete ${id}"]`);
    await page.click("#delete-confirm");
    await expect.poll(() => page.textContent("#notice")).toContain(`Deleted ${id}`);
    await expect.poll(() => page.isVisible("#store-problems")).toBe(false);
    expect(await runtime.engine.storage.stat(archiveKey(id))).toBeNull();
  });

  it("runs cleanup as a job and follows it to its end like a backup", async () => {
    // Two daily backups on one day: retention keeps the newer, so cleanup has one to delete.
    await runBackup(runtime.engine, { type: "daily", actor: "test" });
    await runBackup(runtime.engine, { type: "daily", actor: "test" });
    await page.reload();
    await page.click("#cleanup-preview");
    await expect.poll(() => page.textContent("#cleanup-result")).toContain("Cleanup would remove 1 backups");
    await page.getByRole("button", { name: "Run cleanup now" }).click();
    await expect.poll(() => page.textContent("#notice"), { timeout: 30_000 }).toMatch(/Cleanup removed 1 backups/);
    expect((await listBackups(runtime.engine.storage, "daily")).length).toBe(1);
    expect(await page.isVisible("#cleanup-result")).toBe(false);
  });

  it("did all of the above with no Content-Security-Policy violation", () => {
    expect(cspViolations).toEqual([]);
  });
});
