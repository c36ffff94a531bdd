// The deployed dashboard's build (infra/build-dashboard.mjs): config.js points at the API, and index.html carries the same CSP as `serve` sends.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dashboardCsp } from "../api/security-headers.ts";
import { tempDir } from "./helpers/crm.ts";

const ROOT = path.join(import.meta.dirname, "..");

describe("infra/build-dashboard.mjs", () => {
  it("writes the API URL into config.js and serve's CSP, with the API's origin in connect-src, into index.html", () => {
    const out = tempDir("dashboard-build-");
    const api = "https://abc123.execute-api.eu-central-1.amazonaws.com/";
    execFileSync(process.execPath, [path.join(ROOT, "infra", "build-dashboard.mjs")], {
      cwd: path.join(ROOT, "web"),
      env: { PATH: process.env.PATH, COLAB_BACKUP_API_URL: api, COLAB_BACKUP_DASHBOARD_OUT: out },
    });
    expect(readFileSync(path.join(out, "config.js"), "utf8")).toContain('"apiBase":"https://abc123.execute-api.eu-central-1.amazonaws.com"');
    const html = readFileSync(path.join(out, "index.html"), "utf8");
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    // The same policy as the header, less frame-ancestors, which a <meta> cannot carry.
    expect(meta).toBe(dashboardCsp([api]).replace("; frame-ancestors 'none'", ""));
    expect(readFileSync(path.join(ROOT, "web", "index.html"), "utf8")).not.toContain("Content-Security-Policy");
  });
});
