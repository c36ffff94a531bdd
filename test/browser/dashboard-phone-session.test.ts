// The dashboard in headless Chromium at phone width (first screen, stacked tables) and its sign-in shared by the tabs of one browser session.
/// <reference lib="dom" />
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { verifyBackup } from "../../core/verify.ts";
import { mintAdminToken } from "../../runtime/local-auth.ts";
import { launchChromium, serveDashboard, sideways, watchCsp, type ServedDashboard } from "../helpers/browser.ts";

const ARTIFACTS = path.join(import.meta.dirname, "..", "..", "test-artifacts");
const SECRET = "phone-session-browser-secret-at-least-32-chars";
const PHONE = { width: 375, height: 740 };

let browser: Browser;
let served: ServedDashboard;
let backupId: string;
const csp: string[] = [];

async function signedIn(page: Page): Promise<void> {
  await page.goto(`${served.server.url}/#token=${await mintAdminToken(SECRET, { email: "ada@colab.example" })}`);
  await page.waitForSelector("#backups tbody tr[data-id]");
}

/** Each cell of the row: whether it is shown, and whether it lies inside the screen's width. */
const cellsOf = (page: Page, row: string) =>
  page.locator(`${row} td`).evaluateAll((tds) =>
    tds.map((td) => {
      const r = td.getBoundingClientRect();
      return { shown: r.width > 0 && r.height > 0, inside: r.left >= 0 && r.right <= document.documentElement.clientWidth, label: getComputedStyle(td, "::before").content };
    }),
  );

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  served = await serveDashboard(SECRET, { BACKUP_FORMAT: "v2" });
  const out = await runBackup(served.runtime.engine, { type: "manual", actor: "cli", description: "a description a phone must still show" });
  if (out.skipped) throw new Error("expected a backup");
  backupId = out.manifest.id;
  await verifyBackup(served.runtime.engine, backupId, undefined, { actor: "cli" });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await served?.server.close();
});

describe("phone layout (375 px)", () => {
  it("shows health, the last backup and the backup button on the first screen, with the other facts one tap away", async () => {
    const page = await browser.newPage({ viewport: PHONE });
    await watchCsp(page, csp);
    await signedIn(page);
    await expect.poll(() => page.textContent("#health")).toContain("Healthy");
    for (const sel of ["#health", "#stats > div[data-key]", "#create-button"]) {
      const box = await page.locator(sel).first().boundingBox();
      expect(box, sel).not.toBeNull();
      expect(box!.y + box!.height, `${sel} is on the first screen`).toBeLessThanOrEqual(PHONE.height);
    }
    expect(await page.locator("#stats > div[data-key]").first().textContent()).toContain("Last backup");
    const shownCards = () => page.locator("#stats > div").evaluateAll((ds) => ds.filter((d) => d.getBoundingClientRect().height > 0).length);
    expect(await shownCards()).toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-phone-first-screen.png") });
    await page.click("#stats-more");
    expect(await shownCards()).toBe(8);
    expect(await page.getAttribute("#stats-more", "aria-expanded")).toBe("true");
    expect(await sideways(page)).toBeLessThanOrEqual(0);
    await page.close();
  });

  it("stacks the audit, run and backup tables as labelled rows, every column shown inside the screen", async () => {
    const page = await browser.newPage({ viewport: PHONE });
    await watchCsp(page, csp);
    await signedIn(page);
    await page.waitForSelector("#audit tbody tr td[data-label]");
    await page.waitForSelector("#runs tbody tr td[data-label]");
    for (const [row, labels] of [
      ["#audit tbody tr:first-child", ["When", "Who", "Action", "Backup", "Result"]],
      ["#runs tbody tr:first-child", ["When", "Run", "Backup", "Result", "Duration", "Size", "By"]],
      ["#backups tbody tr[data-id]", ["Created", "Type", "Size", "Description"]],
    ] as const) {
      const cells = await cellsOf(page, row);
      expect(cells.every((c) => c.shown && c.inside), `${row}: ${JSON.stringify(cells)}`).toBe(true);
      expect(cells.slice(0, labels.length).map((c) => c.label)).toEqual(labels.map((l) => `"${l}"`));
    }
    expect(await page.textContent("#backups tbody tr[data-id]")).toContain("a description a phone must still show");
    expect(await sideways(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });

    // The details dialog fits too: long hashes and paths wrap rather than widen it.
    await page.click(`button[aria-label="Details ${backupId}"]`);
    await page.waitForSelector("#files tbody tr[data-path]");
    expect(await page.evaluate(() => { const d = document.getElementById("details-dialog")!; return d.scrollWidth - d.clientWidth; })).toBeLessThanOrEqual(0);
    const file = await cellsOf(page, "#files tbody tr[data-path]");
    expect(file.every((c) => c.shown && c.inside)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-details-phone.png") });
    await page.close();
  });
});

describe("sign-in across the tabs of one browser session", () => {
  it("signs a second tab in from the first, never stores the token on disk or in a cookie, and keeps it from other origins and sessions", async () => {
    const session = await browser.newContext();
    const first = await session.newPage();
    await watchCsp(first, csp);
    await signedIn(first);
    const second = await session.newPage();
    await watchCsp(second, csp);
    await second.goto(`${served.server.url}/`); // no token in this address: it comes from the open tab
    await expect.poll(() => second.isVisible("#app")).toBe(true);
    await expect.poll(() => second.locator("#backups tbody tr[data-id]").count()).toBe(1);
    expect(await second.isVisible("#sign-in")).toBe(false);

    for (const p of [first, second]) expect(await p.evaluate(() => localStorage.length)).toBe(0);
    expect(await session.cookies()).toEqual([]);

    // Another origin (localhost rather than 127.0.0.1) in the same session cannot ask for it.
    const otherOrigin = await session.newPage();
    await otherOrigin.goto(served.server.url.replace("127.0.0.1", "localhost") + "/");
    await expect.poll(() => otherOrigin.isVisible("#sign-in")).toBe(true);
    expect(await otherOrigin.isVisible("#app")).toBe(false);
    await otherOrigin.close();

    // Another browser session starts signed out.
    const stranger = await browser.newContext();
    const outsider = await stranger.newPage();
    await outsider.goto(`${served.server.url}/`);
    await expect.poll(() => outsider.isVisible("#sign-in")).toBe(true);
    await stranger.close();

    // Signing out in one tab signs out every tab; signing in again in one signs the others in.
    await first.click("#sign-out");
    await expect.poll(() => second.isVisible("#sign-in")).toBe(true);
    expect(await second.evaluate(() => sessionStorage.length)).toBe(0);
    await second.fill("#token-input", await mintAdminToken(SECRET, { email: "ada@colab.example" }));
    await second.click("#sign-in-form button[type=submit]");
    await expect.poll(() => first.isVisible("#app")).toBe(true);
    await expect.poll(() => first.locator("#backups tbody tr[data-id]").count()).toBe(1);
    await session.close();
  });

  it("did all of the above with no Content-Security-Policy violation", () => {
    expect(csp).toEqual([]);
  });
});
