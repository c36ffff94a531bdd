// The dashboard in headless Chromium: choosing one upload in a v2 backup's file browser and restoring just it, with the typed token.
/// <reference lib="dom" />
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { readAudit } from "../../core/catalog.ts";
import { mintAdminToken } from "../../runtime/local-auth.ts";
import { launchChromium, serveDashboard, watchCsp, type ServedDashboard } from "../helpers/browser.ts";

const SECRET = "restore-chosen-browser-test-secret-32-chars";

let browser: Browser;
let served: ServedDashboard;
let page: Page;
let id: string;
const csp: string[] = [];

beforeAll(async () => {
  served = await serveDashboard(SECRET, { BACKUP_FORMAT: "v2" });
  const out = await runBackup(served.runtime.engine, { type: "manual", actor: "cli" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  id = out.manifest.id;
  browser = await launchChromium();
  page = await browser.newPage();
  await watchCsp(page, csp);
  await page.goto(`${served.server.url}/#token=${await mintAdminToken(SECRET, { email: "ada@colab.example" })}`);
  await page.waitForSelector(`#backups tbody tr[data-id="${id}"]`);
});

afterAll(async () => {
  await browser?.close();
  await served?.server.close();
});

describe("restoring chosen files from the file browser", () => {
  it("restores one chosen upload after the typed token; another changed live file is untouched", async () => {
    const chosen = path.join(served.crmRoot, "uploads/a.txt");
    const other = path.join(served.crmRoot, "uploads/deep/nested/b.txt");
    writeFileSync(chosen, "changed a\n");
    writeFileSync(other, "changed b\n");

    await page.click(`button[aria-label="Details ${id}"]`);
    await expect.poll(() => page.isVisible("#details-dialog")).toBe(true);
    await page.waitForSelector('#files tbody tr[data-path="uploads/a.txt"]');
    expect(await page.isDisabled("#files-restore")).toBe(true);
    await page.check('input[aria-label="Select uploads/a.txt"]');
    expect(await page.textContent("#files-selected")).toBe("1 chosen: uploads/a.txt");
    await page.click("#files-restore");

    // The same restore dialog: the chosen path shown, its component ticked (and fixed), the token still required.
    await expect.poll(() => page.isVisible("#restore-dialog")).toBe(true);
    expect(await page.isVisible("#details-dialog")).toBe(false);
    expect(await page.locator("#restore-include li").allTextContents()).toEqual(["uploads/a.txt"]);
    expect(await page.textContent("#restore-impact")).toContain("Every other live file stays as it is.");
    const ticked = await page.locator("#restore-components input:checked").evaluateAll((xs) => xs.map((x) => (x as HTMLInputElement).value));
    expect(ticked).toEqual(["uploads"]);
    expect(await page.isDisabled("#restore-submit")).toBe(true);
    await page.fill("#restore-confirm", "confirm_restore");
    expect(await page.isDisabled("#restore-submit")).toBe(true);
    await page.fill("#restore-confirm", "CONFIRM_RESTORE");
    await page.click("#restore-submit");
    await expect.poll(() => page.textContent(`#result-${id}`), { timeout: 30_000 }).toMatch(/succeeded/);

    expect(readFileSync(chosen, "utf8")).toBe("alpha\n");
    expect(readFileSync(other, "utf8")).toBe("changed b\n");
    const audit = (await readAudit(served.runtime.engine.storage)).find((a) => a.action === "restore");
    expect(audit).toMatchObject({ backupId: id, actor: "ada@colab.example", result: "succeeded", detail: { include: ["uploads/a.txt"] } });
  });

  it("restores a folder ticked while open: everything under it comes back, a file beside it keeps its change", async () => {
    const inside = path.join(served.crmRoot, "uploads/deep/nested/b.txt");
    const beside = path.join(served.crmRoot, "uploads/a.txt");
    writeFileSync(inside, "changed again\n");
    writeFileSync(beside, "changed again\n");
    await page.click(`button[aria-label="Details ${id}"]`);
    await page.waitForSelector('#files tbody tr[data-path="uploads/deep/nested/b.txt"]');
    // A new dialog starts with nothing chosen.
    expect(await page.textContent("#files-selected")).toBe("None chosen.");
    await page.click('button[aria-label="Open folder uploads/deep/nested/"]');
    await page.check('input[aria-label="Select folder uploads/deep/nested/"]');
    await page.click("#files-restore");
    await expect.poll(() => page.isVisible("#restore-dialog")).toBe(true);
    expect(await page.locator("#restore-include li").allTextContents()).toEqual(["uploads/deep/nested"]);
    await page.fill("#restore-confirm", "CONFIRM_RESTORE");
    await page.click("#restore-submit");
    await expect.poll(async () => (await readAudit(served.runtime.engine.storage)).filter((a) => a.action === "restore").length, { timeout: 30_000 }).toBe(2);
    expect((await readAudit(served.runtime.engine.storage)).find((a) => a.action === "restore")).toMatchObject({ result: "succeeded", detail: { include: ["uploads/deep/nested"] } });
    expect(readFileSync(inside, "utf8")).toBe("bravo\n".repeat(1000));
    expect(readFileSync(beside, "utf8")).toBe("changed again\n");
  });

  it("did all of the above with no Content-Security-Policy violation", () => {
    expect(csp).toEqual([]);
  });
});
