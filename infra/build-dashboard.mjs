// The dashboard's build for sst.aws.StaticSite: a copy of web/ in .sst/dashboard with config.js pointing at the deployed API.

// SST runs it in web/ with COLAB_BACKUP_API_URL set (infra/api.ts). web/ is copied, never changed, so the
// same files keep serving `colab-backup serve` with apiBase "" (same origin).
import { cpSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const apiUrl = process.env.COLAB_BACKUP_API_URL;
if (!apiUrl || !/^https?:\/\//.test(apiUrl)) {
  console.error(`build dashboard: COLAB_BACKUP_API_URL must be the API's URL (SST sets it on deploy); got "${apiUrl ?? ""}"`);
  process.exit(2);
}

const web = fileURLToPath(new URL("../web/", import.meta.url));
const out = fileURLToPath(new URL("../.sst/dashboard/", import.meta.url));
rmSync(out, { recursive: true, force: true });
cpSync(web, out, { recursive: true });
const settings = { apiBase: apiUrl.replace(/\/+$/, "") };
writeFileSync(
  path.join(out, "config.js"),
  `// Written by infra/build-dashboard.mjs at deploy time: where the dashboard finds the API.\nwindow.COLAB_BACKUP_CONFIG = ${JSON.stringify(settings)};\n`,
);
console.log(`build dashboard: ${out} with apiBase ${settings.apiBase}`);
