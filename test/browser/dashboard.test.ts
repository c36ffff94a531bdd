// The dashboard in a real headless Chromium against `serve`: sign in, back up, download, restore, chart, phone width, damaged store.
/// <reference lib="dom" />
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { listBackups, readManifest } from "../../core/catalog.ts";
import { verifyBackup } from "../../core/verify.ts";
import { exportStream } from "../../core/v2/export.ts";
import { archiveKey, manifestKey } from "../../core/ids.ts";
import { mintAdminToken } from "../../runtime/local-auth.ts";
import type { Server } from "../../cli/serve.ts";
import { tempDir } from "../helpers/crm.ts";
import { launchChromium, serveDashboard, watchCsp, type ServedDashboard } from "../helpers/browser.ts";

const ARTIFACTS = path.join(import.meta.dirname, "..", "..", "test-artifacts");
const SECRET = "browser-test-secret-that-is-at-least-32-chars";

let browser: Browser;
let server: Server;
let page: Page;
let crmRoot: string;
let runtime: ServedDashboard["runtime"];
/** Every Content-Security-Policy violation any page reported, from the DOM event and from the console. */
const cspViolations: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ crmRoot, runtime, server } = await serveDashboard(SECRET));
  browser = await launchChromium();
  page = await browser.newPage({ acceptDownloads: true });
  await watchCsp(page, cspViolations);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Makes reads of a backup's archive (v1) or packs (v2) wait until the returned function is called, which also undoes it. */
function holdReads(id: string): () => void {
  const storage = runtime.engine.storage;
  const { get, openFile } = storage;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const held = (key: string) => key === archiveKey(id) || key.startsWith("data/packs/");
  storage.get = async (key, range) => {
    if (held(key)) await gate;
    return get.call(storage, key, range);
  };
  // A v2 verify on the fs store opens each pack itself (core/v2/pack-files.ts) instead of streaming it through get.
  if (openFile) {
    storage.openFile = async (key) => {
      if (held(key)) await gate;
      return openFile.call(storage, key);
    };
  }
  return () => {
    open();
    storage.get = get;
    if (openFile) storage.openFile = openFile;
  };
}

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
    // Empty lists say so, rather than looking like lists that failed to load.
    await expect.poll(() => page.textContent("#backups tbody")).toContain("No backups yet.");
    expect(await page.textContent("#audit tbody")).toContain("Nothing recorded yet");
  });

  it("creates a backup with a description and shows it in the list, the chart and the health banner", async () => {
    await page.fill("#create-description", "before the upgrade");
    await page.click("#create-button");
    // The result appears beside the button that caused it, not in the banner at the top.
    await expect.poll(() => page.textContent("#create-result"), { timeout: 30_000 }).toMatch(/Backup manual-\S+ succeeded/);
    expect(await page.isVisible("#notice")).toBe(false);
    await expect.poll(() => page.locator("#backups tbody tr[data-id]").count()).toBe(1);
    expect(await page.textContent("#backups tbody tr")).toContain("before the upgrade");
    await expect.poll(() => page.textContent("#health")).toContain("Healthy");
    expect(await page.locator("#chart svg circle").count()).toBe(1);
    // Backups are audited like every other action, with the admin who asked for them.
    await expect.poll(() => page.textContent("#audit tbody tr:first-child")).toMatch(/ada@colab\.example\s*backup\s*manual-\S+\s*succeeded/);
  });

  it("downloads the backup as the standard archive, byte for byte its export", async () => {
    const [m] = await listBackups(runtime.engine.storage);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(`button[aria-label="Download ${m!.id}"]`)]);
    expect(download.suggestedFilename()).toBe(`${m!.id}.tar.gz`);
    const file = path.join(tempDir("dl-"), "a.tar.gz");
    await download.saveAs(file);
    // A v2 backup (the default) downloads as its export, which is the same bytes every time.
    const exported: Buffer[] = [];
    for await (const c of await exportStream(runtime.engine.storage, await readManifest(runtime.engine.storage, m!.id))) exported.push(c as Buffer);
    expect(createHash("sha256").update(readFileSync(file)).digest("hex")).toBe(createHash("sha256").update(Buffer.concat(exported)).digest("hex"));
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
    await expect.poll(() => page.textContent(`#result-${m!.id}`), { timeout: 30_000 }).toContain(`Restore from ${m!.id} succeeded`);
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
    await expect.poll(() => page.textContent("#email-result")).toContain("Test email sent via outbox");
    // The Email card names the same transport the test email used, and the audit trail records the test email.
    expect(await page.textContent("#stats")).toMatch(/Email.*a test email goes to the outbox folder/);
    await expect.poll(() => page.textContent("#audit tbody")).toMatch(/test-email\s*—\s*succeeded/);
    const pre = (await listBackups(runtime.engine.storage, "pre-restore"))[0]!;
    await page.click(`button[aria-label="Delete ${pre.id}"]`);
    await page.click("#delete-confirm");
    await expect.poll(() => page.textContent("#list-result")).toContain(`Deleted ${pre.id}`);
    expect((await listBackups(runtime.engine.storage, "pre-restore")).length).toBe(0);
  });

  it("labels every control, works by keyboard and fits a phone screen; also served at /frontend/backup.html", async () => {
    const unlabeled = await page.evaluate(() =>
      Array.from(document.querySelectorAll("input, select, textarea")).filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute("aria-label")).map((el) => el.id || el.outerHTML),
    );
    expect(unlabeled).toEqual([]);
    await page.focus("#create-description");
    await page.keyboard.type("via keyboard");
    const before = (await listBackups(runtime.engine.storage, "manual")).length;
    await page.keyboard.press("Enter");
    await expect.poll(async () => (await listBackups(runtime.engine.storage, "manual")).length, { timeout: 30_000 }).toBe(before + 1);
    const newest = (await listBackups(runtime.engine.storage, "manual"))[0]!;
    await expect.poll(() => page.textContent("#create-result"), { timeout: 30_000 }).toContain(`Backup ${newest.id} succeeded`);

    const phone = await browser.newPage({ viewport: { width: 375, height: 740 } });
    await watchCsp(phone, cspViolations);
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
    await expect.poll(() => page.textContent("#list-result")).toContain(`Deleted ${id}`);
    await expect.poll(() => page.isVisible("#store-problems")).toBe(false);
    expect(await runtime.engine.storage.stat(archiveKey(id))).toBeNull();
  });

  it("keeps a refused restore's error beside its row while a verify's result arrives, until it is dismissed", async () => {
    const [m] = await listBackups(runtime.engine.storage, "manual");
    const row = `#result-${m!.id}`;
    // Holds the verify at its data reads, so the restore below starts while it runs, as an admin clicking quickly would.
    const release = holdReads(m!.id);
    try {
      await page.click(`button[aria-label="Verify ${m!.id}"]`);
      await expect.poll(() => page.textContent("#job-label")).toContain(`Verifying ${m!.id}`);
      await page.click(`button[aria-label="Restore ${m!.id}"]`);
      await page.check('#restore-components input[value="config"]');
      await page.fill("#restore-confirm", "CONFIRM_RESTORE");
      await page.click("#restore-submit");
      await expect.poll(() => page.textContent(`${row} .result.error`)).toMatch(/start restore: verify job \S+ is running/);
    } finally {
      release();
    }
    await expect.poll(() => page.textContent(row), { timeout: 30_000 }).toContain(`Verification of ${m!.id} succeeded`);
    // The job's success sits beside the error; it does not replace it.
    expect(await page.textContent(`${row} .result.error`)).toMatch(/start restore: verify job/);
    expect(await page.isVisible("#notice")).toBe(false);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-results.png"), fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await page.locator(row).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-results-phone.png") });
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.click(`${row} .result.error button.dismiss`);
    await expect.poll(() => page.locator(`${row} .result.error`).count()).toBe(0);
    expect(await page.textContent(row)).toContain(`Verification of ${m!.id} succeeded`);
  });

  it("follows changes made elsewhere: a CLI backup appears without a reload; polling slows while hidden and backs off on errors", async () => {
    expect(await page.evaluate(() => document.body.dataset.pollMs)).toBe("5000");
    const outcome = await runBackup(runtime.engine, { type: "daily", description: "made by the CLI", actor: "cli" });
    if (outcome.skipped) throw new Error("expected a new backup");
    await expect.poll(() => page.locator(`#backups tbody tr[data-id="${outcome.manifest.id}"]`).count(), { timeout: 15_000 }).toBe(1);
    // A verify made by the CLI has no job behind it; "Last verified" and the audit trail still show it.
    await verifyBackup(runtime.engine, outcome.manifest.id, undefined, { actor: "cli" });
    await expect.poll(() => page.textContent("#stats"), { timeout: 15_000 }).toContain(`${outcome.manifest.id} at`);
    expect(await page.textContent("#stats")).toContain("by cli");
    expect(await page.textContent("#audit tbody tr:first-child")).toMatch(new RegExp(`cli\\s*verify\\s*${outcome.manifest.id}\\s*succeeded`));

    const setVisibility = (state: string) =>
      page.evaluate((s) => {
        Object.defineProperty(document, "visibilityState", { value: s, configurable: true });
        document.dispatchEvent(new Event("visibilitychange"));
      }, state);
    await setVisibility("hidden");
    expect(await page.evaluate(() => document.body.dataset.pollMs)).toBe("60000");
    await setVisibility("visible");
    await expect.poll(() => page.evaluate(() => document.body.dataset.pollMs)).toBe("5000");

    await page.route("**/api/backup/status", (r) => r.abort());
    await expect.poll(() => page.evaluate(() => document.body.dataset.pollMs), { timeout: 15_000 }).toBe("10000");
    expect(await page.textContent("#notice")).toContain("Could not refresh the page");
    await page.unroute("**/api/backup/status");
    await setVisibility("visible"); // coming back to the tab refreshes at once
    await expect.poll(() => page.evaluate(() => document.body.dataset.pollMs)).toBe("5000");
    await expect.poll(() => page.isVisible("#notice")).toBe(false);
  });

  it("follows a job started elsewhere (another admin's verify) and shows its result in the job box", async () => {
    const [m] = await listBackups(runtime.engine.storage, "manual");
    // Holds the verify at its data reads, so it is still running when the page next polls.
    const release = holdReads(m!.id);
    try {
      await server.runner.submitVerify(m!.id, "bob@colab.example");
      await expect.poll(() => page.textContent("#job-label"), { timeout: 15_000 }).toBe("verify job: running");
    } finally {
      release();
    }
    await expect.poll(() => page.textContent("#job-result"), { timeout: 15_000 }).toContain(`Verification of ${m!.id} succeeded`);
    await expect.poll(() => page.textContent("#stats")).toContain("by bob@colab.example");
  });

  it("shows a failed manual backup's error beside its button until dismissed, and audits the failure", async () => {
    // With the CRM's folder gone the database snapshot finds no file, so the backup fails for real.
    renameSync(crmRoot, `${crmRoot}.away`);
    try {
      await page.fill("#create-description", "doomed");
      await page.click("#create-button");
      await expect.poll(() => page.textContent("#create-result .result.error"), { timeout: 30_000 }).toMatch(/Backup manual-\S+ failed: snapshot database: \S+ does not exist/);
    } finally {
      renameSync(`${crmRoot}.away`, crmRoot);
    }
    await expect.poll(() => page.textContent("#audit tbody tr:first-child")).toMatch(/ada@colab\.example\s*backup\s*manual-\S+\s*failed: snapshot database: \S+ does not exist/);
    // A later success is shown too, but the error stays until the admin dismisses it.
    await page.click("#create-button");
    await expect.poll(() => page.locator("#create-result .result.info").count(), { timeout: 30_000 }).toBe(1);
    expect(await page.locator("#create-result .result.error").count()).toBe(1);
    await page.click("#create-result .result.error button.dismiss");
    expect(await page.locator("#create-result .result.error").count()).toBe(0);
  });

  it("runs cleanup as a job and follows it to its end like a backup", async () => {
    // Two daily backups on one day: retention keeps the newer, so cleanup has one to delete.
    await runBackup(runtime.engine, { type: "daily", actor: "test" });
    await runBackup(runtime.engine, { type: "daily", actor: "test" });
    // Earlier tests may have made dailies today too: all but the newest of the day go.
    const extra = (await listBackups(runtime.engine.storage, "daily")).length - 1;
    await page.reload();
    await page.click("#cleanup-preview");
    await expect.poll(() => page.textContent("#cleanup-result")).toContain(`Cleanup would remove ${extra} backups`);
    await page.getByRole("button", { name: "Run cleanup now" }).click();
    await expect.poll(() => page.textContent("#cleanup-status"), { timeout: 30_000 }).toContain(`Cleanup removed ${extra} backups`);
    expect((await listBackups(runtime.engine.storage, "daily")).length).toBe(1);
    expect(await page.isVisible("#cleanup-result")).toBe(false);
  });

  it("did all of the above with no Content-Security-Policy violation", () => {
    expect(cspViolations).toEqual([]);
  });
});
