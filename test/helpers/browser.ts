// Browser-test plumbing shared by the dashboard suites: headless Chromium, a CSP-violation watcher, and `serve` over a fresh CRM.
/// <reference lib="dom" />
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { buildRuntime } from "../../runtime/local.ts";
import { startServer, type Server } from "../../cli/serve.ts";
import { makeCrm, tempDir } from "./crm.ts";

export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
}

/** Records every Content-Security-Policy violation the page reports into `sink`, so a test can demand there was none. */
export async function watchCsp(page: Page, sink: string[]): Promise<void> {
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
  });
  page.on("console", (m) => {
    if (m.type() === "error" && /CSP violation|Content Security Policy/i.test(m.text())) sink.push(m.text());
  });
}

export interface ServedDashboard {
  crmRoot: string;
  runtime: Awaited<ReturnType<typeof buildRuntime>>;
  server: Server;
}

/** `serve` on a free port over a new CRM, without the scheduler; `env` adds settings such as BACKUP_FORMAT. */
export async function serveDashboard(secret: string, env: NodeJS.ProcessEnv = {}): Promise<ServedDashboard> {
  const crmRoot = makeCrm().root;
  const runtime = await buildRuntime({ cwd: tempDir("serve-"), env: { CRM_ROOT: crmRoot, JWT_SECRET: secret, PATH: process.env.PATH, ...env } });
  const server = await startServer(runtime, { port: 0, schedule: false });
  return { crmRoot, runtime, server };
}

/** How far the page's content reaches past the viewport's right edge (0 or less: nothing is cut off or scrolls sideways). */
export const sideways = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
