// The dashboard in headless Chromium: a backup's details (v1 and v2), browsing thousands of its files, the run history, and the chart.
/// <reference lib="dom" />
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { readManifest } from "../../core/catalog.ts";
import { mintAdminToken } from "../../runtime/local-auth.ts";
import { launchChromium, serveDashboard, sideways, watchCsp, type ServedDashboard } from "../helpers/browser.ts";
import { makeTestEngine, tempDir } from "../helpers/crm.ts";

const ARTIFACTS = path.join(import.meta.dirname, "..", "..", "test-artifacts");
const SECRET = "details-browser-test-secret-at-least-32-chars";
const BULK = 2400;

let browser: Browser;
let served: ServedDashboard;
let page: Page;
let v1Id: string;
let v2Id: string;
const csp: string[] = [];

async function backup(format: "v1" | "v2", actor = "cli"): Promise<string> {
  const engine = makeTestEngine(served.crmRoot, served.runtime.engine.config.backupDir, { BACKUP_FORMAT: format });
  const out = await runBackup(engine, { type: "manual", actor, description: `${format} backup` });
  if (out.skipped || out.manifest.formatVersion !== (format === "v1" ? 1 : 2)) throw new Error(`expected a ${format} backup`);
  return out.manifest.id;
}

/** Pairs of x-axis labels whose drawn boxes cross: labels a person could not read. */
const overlappingTicks = () =>
  page.locator("#chart .x-tick").evaluateAll((ts) => {
    const boxes = ts.map((t) => ({ text: t.textContent, r: t.getBoundingClientRect() }));
    return boxes.flatMap((a, i) => boxes.slice(i + 1).filter((b) => a.r.left < b.r.right && b.r.left < a.r.right && a.r.top < b.r.bottom && b.r.top < a.r.bottom).map((b) => `${a.text} / ${b.text}`));
  });

async function openDetails(id: string): Promise<void> {
  await page.click(`button[aria-label="Details ${id}"]`);
  await expect.poll(() => page.isVisible("#details-dialog")).toBe(true);
  await expect.poll(() => page.textContent("#details-title")).toBe(`Backup ${id}`);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  served = await serveDashboard(SECRET, { BACKUP_FORMAT: "v2" });
  // Thousands of files, as a CRM's uploads folder holds: the browser must page through them, not draw them all.
  mkdirSync(path.join(served.crmRoot, "uploads/bulk"), { recursive: true });
  for (let i = 0; i < BULK; i++) writeFileSync(path.join(served.crmRoot, "uploads/bulk", `${String(i).padStart(4, "0")}.txt`), `file ${i}\n`);
  v1Id = await backup("v1");
  await backup("v2");
  v2Id = await backup("v2"); // the second v2 backup reuses the first one's unchanged files
  browser = await launchChromium();
  page = await browser.newPage({ acceptDownloads: true });
  await watchCsp(page, csp);
  await page.goto(`${served.server.url}/#token=${await mintAdminToken(SECRET, { email: "ada@colab.example" })}`);
  await page.waitForSelector("#backups tbody tr[data-id] >> nth=2");
});

afterAll(async () => {
  await browser?.close();
  await served?.server.close();
});

describe("backup details", () => {
  it("shows a v2 backup's components, database facts and stored stats, and downloads its manifest", async () => {
    await openDetails(v2Id);
    const m = await readManifest(served.runtime.engine.storage, v2Id);
    if (m.formatVersion !== 2) throw new Error("expected v2");
    expect(await page.textContent('#details-components tr[data-component="uploads"]')).toContain(String(m.components.uploads!.fileCount));
    expect(await page.textContent('#details-components tr[data-component="database"]')).toMatch(/included\s*1/);
    const db = await page.textContent("#details-database");
    expect(db).toContain("Customer: 500 rows");
    expect(db).toContain("Deal: 500 rows");
    expect(db).toMatch(/Integrity check\s*ok/);
    expect(db).toContain(`${m.components.database!.database!.pageSize} bytes`);
    expect(db).toContain(m.components.database!.files[0]!.sha256);
    const stored = await page.textContent("#details-stored");
    expect(stored).toMatch(new RegExp(`Files reused unread\\s*${m.stored.filesReused}`));
    expect(m.stored.filesReused).toBeGreaterThan(BULK);
    expect(stored).toContain("Added by this backup");

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#details-manifest")]);
    expect(download.suggestedFilename()).toBe(`${v2Id}.manifest.json`);
    const file = path.join(tempDir("manifest-"), "m.json");
    await download.saveAs(file);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(JSON.parse(JSON.stringify(m)));
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-details.png"), fullPage: true });
    await page.click("#details-close");
  });

  it("shows a v1 backup's archive hash and the same database facts", async () => {
    await openDetails(v1Id);
    const m = await readManifest(served.runtime.engine.storage, v1Id);
    if (m.formatVersion !== 1) throw new Error("expected v1");
    expect(await page.textContent("#details-body")).toContain(m.archive.sha256);
    expect(await page.textContent("#details-database")).toContain("Customer: 500 rows");
    expect(await page.textContent("#details-body")).toContain("1 (one .tar.gz archive)");
    expect(await page.locator("#details-stored").count()).toBe(0);
    await page.click("#details-close");
  });
});

describe("browsing a backup's files", () => {
  it("pages through thousands of files in path order, filters by text and component, and opens folders", async () => {
    await openDetails(v2Id);
    const m = await readManifest(served.runtime.engine.storage, v2Id);
    const all = Object.values(m.components).flatMap((c) => c.files.map((f) => f.path)).sort();
    await expect.poll(() => page.textContent("#files-summary")).toContain(`${all.length} files`);
    expect(all.length).toBeGreaterThan(BULK);
    const paths = () => page.locator("#files tbody tr[data-path]").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.path));
    expect(await paths()).toEqual(all.slice(0, 50));
    expect(await page.textContent("#files-page")).toBe(`Page 1 of ${Math.ceil(all.length / 50)}`);
    await page.click("#files-next");
    await expect.poll(paths).toEqual(all.slice(50, 100));
    expect(await page.isDisabled("#files-prev")).toBe(false);

    await page.fill("#files-q", "NESTED");
    await expect.poll(paths).toEqual(["uploads/deep/nested/b.txt"]);
    expect(await page.textContent("#files-summary")).toContain("1 files (5.9 KiB) match");
    const sha = m.components.uploads!.files.find((f) => f.path === "uploads/deep/nested/b.txt")!.sha256;
    expect(await page.getAttribute("#files tbody td.hash code", "title")).toBe(sha);
    await page.fill("#files-q", "");
    await page.selectOption("#files-component", "logs");
    await expect.poll(async () => (await paths()).every((p) => p!.startsWith("logs/"))).toBe(true);
    expect((await paths()).length).toBe(m.components.logs!.fileCount);
    await page.fill("#files-q", "no-such-file");
    await expect.poll(() => page.textContent("#files tbody")).toContain('No file\'s path contains "no-such-file"');

    // Folders open from any row's path, and lead back up.
    await page.selectOption("#files-component", "");
    await page.fill("#files-q", "0001.txt");
    await expect.poll(paths).toEqual(["uploads/bulk/0001.txt"]);
    await page.click('button[aria-label="Open folder uploads/bulk/"]');
    await page.fill("#files-q", "");
    await expect.poll(() => page.textContent("#files-summary")).toContain(`${BULK} files`);
    expect((await paths()).every((p) => p!.startsWith("uploads/bulk/"))).toBe(true);
    expect(await page.textContent("#files-folder-name")).toBe("uploads/bulk/");
    await page.click("#files-up");
    await expect.poll(() => page.textContent("#files-summary")).toContain(`${m.components.uploads!.fileCount} files`);
    await page.click("#files-all");
    await expect.poll(() => page.textContent("#files-summary")).toContain(`${all.length} files`);
    expect(await page.isVisible("#files-folder")).toBe(false);
    await page.click("#details-close");
  });
});

describe("run history", () => {
  it("lists each run with duration and size, a failed backup included with its error", async () => {
    renameSync(served.crmRoot, `${served.crmRoot}.away`);
    try {
      await expect(runBackup(served.runtime.engine, { type: "manual", actor: "cli" })).rejects.toThrow(/snapshot database/);
    } finally {
      renameSync(`${served.crmRoot}.away`, served.crmRoot);
    }
    const first = page.locator("#runs tbody tr").first();
    await expect.poll(() => first.textContent(), { timeout: 15_000 }).toMatch(/backup\s*manual-\S+\s*failed: snapshot database/);
    const cells = async (row: number) => page.locator("#runs tbody tr").nth(row).locator("td").allTextContents();
    const failed = await cells(0);
    expect(failed[4]).toMatch(/^\d+(\.\d)? (ms|s)$/); // a failed run still has a duration
    expect(failed[5]).toBe("—"); // and no size: it stored nothing
    const v2Row = await cells(1);
    expect(v2Row[2]).toBe(v2Id);
    expect(v2Row[4]).toMatch(/^\d+(\.\d)? (ms|s)$/);
    expect(v2Row[5]).toMatch(/ added, \d+ files reused\)$/);
    const v1Row = await cells(3);
    expect(v1Row[2]).toBe(v1Id);
    expect(v1Row[5]).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);
  });
});

describe("chart", () => {
  it("keys each colour in the legend, never repeats an axis label for same-day backups, and keeps axis text readable on a phone", async () => {
    const legend = await page.locator("#chart .legend li").evaluateAll((items) =>
      items.map((li) => ({ type: (li as HTMLElement).dataset.type, fill: li.querySelector("rect")!.getAttribute("fill"), text: li.textContent!.trim() })),
    );
    expect(legend).toEqual([{ type: "manual", fill: expect.any(String), text: "manual (3)" }]);
    const dotFills = await page.locator('#chart svg circle[data-type="manual"]').evaluateAll((dots) => dots.map((d) => d.getAttribute("fill")));
    expect(new Set(dotFills)).toEqual(new Set([legend[0]!.fill]));
    const labels = await page.locator("#chart .x-tick").allTextContents();
    expect(labels.length).toBeGreaterThan(0);
    expect(new Set(labels).size).toBe(labels.length);
    const titles = await page.locator("#chart svg circle title").allTextContents();
    expect(new Set(titles).size).toBe(3);

    expect(await overlappingTicks()).toEqual([]);

    await page.setViewportSize({ width: 375, height: 740 });
    await expect.poll(async () => Math.min(...(await page.locator("#chart text.axis").evaluateAll((ts) => ts.map((t) => t.getBoundingClientRect().height))))).toBeGreaterThanOrEqual(11);
    expect(await overlappingTicks()).toEqual([]);
    const inside = await page.locator("#chart .x-tick").evaluateAll((ts) => ts.every((t) => t.getBoundingClientRect().left >= 0 && t.getBoundingClientRect().right <= document.documentElement.clientWidth));
    expect(inside).toBe(true);
    expect(await sideways(page)).toBeLessThanOrEqual(0);
    await page.locator("#chart").scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-chart-phone.png") });
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it("did all of the above with no Content-Security-Policy violation", () => {
    expect(csp).toEqual([]);
  });
});
