// The dashboard's build for sst.aws.StaticSite: a copy of web/ in .sst/dashboard with config.js pointing at the deployed API.

// SST runs it in web/ with COLAB_BACKUP_API_URL set (infra/api.ts). web/ is copied, never changed, so the
// same files keep serving `colab-backup serve` with apiBase "" (same origin).
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const apiUrl = process.env.COLAB_BACKUP_API_URL;
if (!apiUrl || !/^https?:\/\//.test(apiUrl)) {
  console.error(`build dashboard: COLAB_BACKUP_API_URL must be the API's URL (SST sets it on deploy); got "${apiUrl ?? ""}"`);
  process.exit(2);
}

const web = fileURLToPath(new URL("../web/", import.meta.url));
// COLAB_BACKUP_DASHBOARD_OUT is for test/dashboard-build.test.ts, which must not write into the checkout.
const out = process.env.COLAB_BACKUP_DASHBOARD_OUT || fileURLToPath(new URL("../.sst/dashboard/", import.meta.url));
rmSync(out, { recursive: true, force: true });
cpSync(web, out, { recursive: true });
const settings = { apiBase: apiUrl.replace(/\/+$/, "") };
writeFileSync(
  path.join(out, "config.js"),
  `// Written by infra/build-dashboard.mjs at deploy time: where the dashboard finds the API.\nwindow.COLAB_BACKUP_CONFIG = ${JSON.stringify(settings)};\n`,
);

// The policy `serve` sends as a header (dashboardCsp in api/security-headers.ts; the build test keeps the two equal),
// here as a <meta> because the static host sends none of our headers. It allows calls to the deployed API only, so a
// crafted ?api= link cannot send the token elsewhere. frame-ancestors is left out: browsers ignore it in a <meta>.
const csp = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", `connect-src 'self' ${new URL(apiUrl).origin}`,
  "object-src 'none'", "base-uri 'none'", "form-action 'self'",
].join("; ");
const indexFile = path.join(out, "index.html");
const html = readFileSync(indexFile, "utf8");
const anchor = '<meta charset="utf-8">';
if (!html.includes(anchor)) {
  console.error(`build dashboard: ${indexFile} has no ${anchor} to put the Content-Security-Policy after`);
  process.exit(1);
}
writeFileSync(indexFile, html.replace(anchor, `${anchor}\n  <meta http-equiv="Content-Security-Policy" content="${csp}">`));
console.log(`build dashboard: ${out} with apiBase ${settings.apiBase}`);
