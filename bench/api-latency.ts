// Measures GET /api/backup latency (p50/p95) with 1,000 bench-size v2 backups in a store, a fresh process's listing, and the dashboard's first-load transfer size.
// Usage: npx tsx bench/api-latency.ts [--backups 1000] [--requests 200] [--cold-runs 1 (0 skips the fresh-process listings)]
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { runBackup } from "../core/backup.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { inflateManifest, plantCopies } from "./plant-backups.ts";
import { mintAdminToken } from "../runtime/local-auth.ts";
import { buildRuntime } from "../runtime/local.ts";
import { startServer } from "../cli/serve.ts";
import { makeCrm, tempDir } from "../test/helpers/crm.ts";

const { values } = parseArgs({ options: { backups: { type: "string", default: "1000" }, requests: { type: "string", default: "200" }, "cold-runs": { type: "string", default: "1" } } });
const N = Number(values.backups);
const R = Number(values.requests);
const SECRET = "latency-bench-secret-at-least-32-characters";

const cwd = tempDir("api-latency-");
const runtime = await buildRuntime({ cwd, env: { CRM_ROOT: makeCrm().root, JWT_SECRET: SECRET, BACKUP_FORMAT: "v2" } });
const { engine } = runtime;
// One real backup, then N-1 copies grown to bench scale 1 (a real v2 manifest there is ~3 MB: the database's pieces and
// every upload's record) under new ids and dates: listing cost depends on the manifests, not on the data.
const first = await runBackup(engine, { type: "daily" });
if (first.skipped || first.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
const root = engine.config.backupDir;
const t0 = performance.now();
// Each with its catalog index entry, as the backups that wrote them would have left it (core/catalog-index.ts).
const manifestBytes = plantCopies(root, inflateManifest(first.manifest as StoredManifestV2), N - 1, true);
console.error(`planted ${N - 1} gzipped manifests of ${(manifestBytes / 1e6).toFixed(2)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// A fresh process lists the store twice: the first may have to read every manifest (a store no listing has indexed
// yet), the second is what every later CLI command or cold Lambda pays.
const coldScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "catalog-cold.ts");
const cold = () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", coldScript, root], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`catalog-cold failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ms: number; backups: number };
};
const coldRuns = Number(values["cold-runs"]);
const colds = coldRuns > 0 ? [cold(), ...Array.from({ length: coldRuns }, () => cold())].map((c) => c.ms) : [];

const server = await startServer(runtime, { port: 0, schedule: false });
const token = await mintAdminToken(SECRET);
const get = async (url: string) => {
  const t = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t, body };
};
const check = await get(`${server.url}/api/backup`);
if (check.body.total !== N) throw new Error(`expected ${N} backups, listed ${check.body.total}`);
const times: number[] = [];
for (let i = 0; i < R; i++) {
  const page = 1 + (i % Math.ceil(N / 50));
  times.push((await get(`${server.url}/api/backup?page=${page}&pageSize=50`)).ms);
}
times.sort((a, b) => a - b);
const pct = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]!;

// First load in a real browser: every response's encoded body size, as the network saw it.
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
const page = await browser.newPage();
const sizes: Record<string, number> = {};
page.on("response", async (res) => {
  const req = res.request();
  const sizesInfo = await req.sizes().catch(() => null);
  if (sizesInfo) sizes[new URL(res.url()).pathname] = sizesInfo.responseBodySize + sizesInfo.responseHeadersSize;
});
await page.goto(`${server.url}/#token=${token}`);
await page.waitForSelector("#backups tbody tr[data-id]");
await page.waitForLoadState("networkidle");
await browser.close();
await server.close();

const staticBytes = Object.entries(sizes).filter(([p]) => !p.startsWith("/api/")).reduce((n, [, b]) => n + b, 0);
const apiBytes = Object.entries(sizes).filter(([p]) => p.startsWith("/api/")).reduce((n, [, b]) => n + b, 0);
console.log(`store: ${N} v2 backups, gzipped manifests of ${(manifestBytes / 1e6).toFixed(2)} MB each (fs store in ${root})`);
if (colds.length) console.log(`fresh process, listing the whole store: first ${colds[0]!.toFixed(0)} ms, then ${colds.slice(1).map((ms) => ms.toFixed(0)).join(", ")} ms`);
console.log(`the server's first GET /api/backup: ${check.ms.toFixed(0)} ms`);
console.log(`GET /api/backup?pageSize=50, ${R} sequential requests: p50 ${pct(50).toFixed(1)} ms, p95 ${pct(95).toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
console.log(`dashboard first load: ${Object.keys(sizes).length} responses; static files ${staticBytes} bytes, API calls ${apiBytes} bytes (headers included, uncompressed)`);
for (const [p, b] of Object.entries(sizes).sort()) console.log(`  ${p.padEnd(40)} ${b}`);
