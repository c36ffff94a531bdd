// Measures GET /api/backup latency (p50/p95) with 1,000 backups in a store, and the dashboard's first-load transfer size.
// Usage: npx tsx bench/api-latency.ts [--backups 1000] [--requests 200]
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { runBackup } from "../core/backup.ts";
import { manifestKey, archiveKey } from "../core/ids.ts";
import { mintAdminToken } from "../runtime/local-auth.ts";
import { buildRuntime } from "../runtime/local.ts";
import { startServer } from "../cli/serve.ts";
import { makeCrm, tempDir } from "../test/helpers/crm.ts";
import { encodeManifest, isGzipped, manifestJsonText } from "../core/manifest-codec.ts";

const { values } = parseArgs({ options: { backups: { type: "string", default: "1000" }, requests: { type: "string", default: "200" } } });
const N = Number(values.backups);
const R = Number(values.requests);
const SECRET = "latency-bench-secret-at-least-32-characters";

const cwd = tempDir("api-latency-");
const runtime = await buildRuntime({ cwd, env: { CRM_ROOT: makeCrm().root, JWT_SECRET: SECRET } });
const { engine } = runtime;
// One real backup, then N-1 copies of it under new ids and dates: listing cost depends on the manifests, not the archives.
const first = await runBackup(engine, { type: "daily" });
if (first.skipped) throw new Error("unexpected skip");
const m = first.manifest;
const root = engine.config.backupDir;
// v2 manifests are stored gzipped (core/manifest-codec.ts): edited as text, written back as the writer wrote it.
const stored = readFileSync(path.join(root, manifestKey(m.id)));
const raw: string = manifestJsonText(stored);
for (let i = 1; i < N; i++) {
  const at = new Date(Date.parse(m.createdAt) - i * 3_600_000);
  const type = (["daily", "weekly", "monthly", "manual"] as const)[i % 4]!;
  const id = `${type}-${at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")}-${i.toString(16).padStart(6, "0")}`;
  mkdirSync(path.join(root, type), { recursive: true });
  copyFileSync(path.join(root, archiveKey(m.id)), path.join(root, archiveKey(id)));
  const copy = raw.replaceAll(m.id, id).replace(`"type": "daily"`, `"type": "${type}"`).replaceAll(m.createdAt, at.toISOString());
  writeFileSync(path.join(root, manifestKey(id)), isGzipped(stored) ? encodeManifest(JSON.parse(copy)) : copy);
}
const manifestBytes = stored.length;

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
console.log(`store: ${N} backups, manifest ${manifestBytes} bytes each (fs store in ${root})`);
console.log(`GET /api/backup?pageSize=50, ${R} sequential requests: p50 ${pct(50).toFixed(1)} ms, p95 ${pct(95).toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
console.log(`dashboard first load: ${Object.keys(sizes).length} responses; static files ${staticBytes} bytes, API calls ${apiBytes} bytes (headers included, uncompressed)`);
for (const [p, b] of Object.entries(sizes).sort()) console.log(`  ${p.padEnd(40)} ${b}`);
