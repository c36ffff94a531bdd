// Fault: S3 through a fault-injecting proxy in front of LocalStack (connection resets, 500, 503, SlowDown). Transient faults:
// put/get/list and a whole CLI backup retry and succeed. Persistent faults: a clean failure, with no partial object, no
// backup listed and no incomplete multipart upload left. Runtime: ~20 s.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { listBackups } from "../../core/catalog.ts";
import { loadConfig } from "../../core/config.ts";
import { makeEngine } from "../../core/engine.ts";
import { S3Storage } from "../../core/storage/s3-storage.ts";
import { verifyBackup } from "../../core/verify.ts";
import { CREDENTIALS } from "../localstack/config.ts";
import { adminS3, deletePrefix, incompleteUploads } from "../localstack/resources.ts";
import { makeCrm, tempDir } from "../helpers/crm.ts";
import { addBulk, cli, json } from "./helpers.ts";
import { recordFault } from "./record.ts";
import { FaultProxy, type Fault, type Rule } from "./s3-proxy.ts";

const ls = inject("localstack");
if (!ls?.endpoint) throw new Error("the LocalStack globalSetup did not run (see vitest.config.ts): S3 tests cannot be skipped");
process.env.AWS_ACCESS_KEY_ID ??= CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY ??= CREDENTIALS.secretAccessKey;

const runPrefix = `fault-runs/${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}/`;
const admin = adminS3(ls);
let proxy: FaultProxy;
let n = 0;
const stores: S3Storage[] = [];
const store = (prefix: string, endpoint: string) => {
  const s = new S3Storage({ bucket: ls.bucket, prefix, region: ls.region, endpoint });
  stores.push(s);
  return s;
};
const MULTIPART = 12 * 1024 * 1024; // two parts of 8 MiB and 4 MiB

beforeAll(async () => {
  proxy = await FaultProxy.start(ls.endpoint);
});
afterAll(async () => {
  stores.forEach((s) => s.close());
  await proxy.close();
  await deletePrefix(admin, ls.bucket, runPrefix);
  admin.destroy();
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const chunked = (b: Buffer) => Readable.from(Array.from({ length: Math.ceil(b.length / 1_000_000) }, (_, i) => b.subarray(i * 1_000_000, (i + 1) * 1_000_000)));
const multipartPart = (q: URLSearchParams) => q.has("partNumber");
const completeUpload = (q: URLSearchParams) => q.has("uploadId");

function s3Env(prefix: string, crmRoot: string): NodeJS.ProcessEnv {
  return {
    CRM_ROOT: crmRoot, BACKUP_STORAGE: "s3", BACKUP_BUCKET: ls.bucket, BACKUP_S3_PREFIX: prefix, AWS_ENDPOINT_URL: proxy.url,
    AWS_REGION: ls.region, AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  };
}

function directEngine(prefix: string, crmRoot: string) {
  const config = loadConfig({ CRM_ROOT: crmRoot, BACKUP_STORAGE: "s3", BACKUP_BUCKET: ls.bucket, BACKUP_S3_PREFIX: prefix, AWS_ENDPOINT_URL: ls.endpoint, AWS_REGION: ls.region });
  return makeEngine({ config, storage: store(prefix, ls.endpoint), workRoot: tempDir("fault-s3-work-") });
}

describe("fault: S3 behind a fault-injecting proxy", () => {
  it("transient resets, 500, 503 and SlowDown on every method: put, multipart put, get, list and stat succeed (~3 s)", async () => {
    const prefix = `${runPrefix}transient-${++n}/`;
    proxy.setRules([
      { methods: ["PUT"], first: 2, faults: ["reset", "slowdown"] },
      { methods: ["POST"], first: 2, faults: ["500", "503"] },
      { methods: ["GET"], first: 2, faults: ["503", "reset"] },
      { methods: ["HEAD"], first: 1, faults: ["500"] },
    ]);
    const before = { ...proxy.stats.injected };
    const s = store(prefix, proxy.url);
    const small = randomBytes(10_000);
    const big = randomBytes(MULTIPART);
    const ops: [string, () => Promise<boolean>][] = [
      ["put small", async () => (await s.put("manual/small.bin", small)).size === small.length],
      ["put multipart", async () => (await s.put("manual/big.tar.gz", chunked(big))).size === big.length],
      ["get small", async () => sha(await readAll(await s.get("manual/small.bin"))) === sha(small)],
      ["get multipart", async () => sha(await readAll(await s.get("manual/big.tar.gz"))) === sha(big)],
      ["list", async () => (await s.list("manual/")).map((o) => o.key).join() === "manual/big.tar.gz,manual/small.bin"],
      ["stat", async () => (await s.stat("manual/small.bin"))?.size === small.length],
    ];
    const results: string[] = [];
    for (const [name, op] of ops) results.push(await op().then((ok) => (ok ? "ok" : `${name}: wrong result`), (e: Error) => `${name}: ${e.name} ${e.message}`));
    const injected = Object.entries(proxy.stats.injected).map(([k, v]) => `${k} ${v - before[k as keyof typeof before]}`).join(", ");
    const open = await incompleteUploads(admin, ls.bucket, prefix);
    const failed = results.filter((r) => r !== "ok");
    recordFault({ suite: "s3", fault: "transient faults on put/get/list/stat", trials: ops.length, held: ops.length - failed.length, lost: failed.length, note: `injected ${injected}` });
    expect(failed).toEqual([]);
    expect(open).toEqual([]);
    expect(Object.values(proxy.stats.injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(Object.values(before).reduce((a, b) => a + b, 0) + 5);
  });

  const PERSISTENT: { name: string; rules: Rule[] }[] = [
    { name: "every part upload answers 500", rules: [{ methods: ["PUT"], query: multipartPart, fraction: 1, faults: ["500"] }] },
    { name: "every part upload is reset", rules: [{ methods: ["PUT"], query: multipartPart, fraction: 1, faults: ["reset"] }] },
    { name: "completing the upload always throttled", rules: [{ methods: ["POST"], query: (q) => completeUpload(q) && !q.has("uploads"), fraction: 1, faults: ["slowdown"] }] },
    { name: "a small put always answers 503", rules: [{ methods: ["PUT"], query: (q) => !q.has("partNumber"), fraction: 1, faults: ["503"] }] },
  ];

  it(`${PERSISTENT.length} persistent faults: put fails with an error, no object and no incomplete multipart upload (~4 s)`, async () => {
    const results: { name: string; threw: string; listed: boolean; open: string[] }[] = [];
    for (const p of PERSISTENT) {
      const prefix = `${runPrefix}persistent-${++n}/`;
      proxy.setRules(p.rules);
      const s = store(prefix, proxy.url);
      const body = p.name.includes("small") ? randomBytes(10_000) : chunked(randomBytes(MULTIPART));
      const threw = await s.put("manual/x.tar.gz", body).then(() => "", (e: Error) => `${e.name}: ${e.message}`.slice(0, 80));
      proxy.setRules([]);
      const direct = store(prefix, ls.endpoint);
      results.push({ name: p.name, threw, listed: (await direct.list("")).length > 0, open: await incompleteUploads(admin, ls.bucket, prefix) });
    }
    const bad = results.filter((r) => !r.threw || r.listed || r.open.length);
    recordFault({
      suite: "s3",
      fault: "persistent faults on put",
      trials: results.length,
      held: results.length - bad.length,
      lost: results.filter((r) => r.listed || r.open.length).length,
      note: results.map((r) => `${r.name}: ${r.threw ? "failed" : "SUCCEEDED"}${r.open.length ? ", upload left open" : ""}`).join("; "),
    });
    expect(bad).toEqual([]);
  });

  it("a whole CLI backup to S3 with ~30% transient faults on every request succeeds and verifies (~6 s)", async () => {
    const crm = makeCrm();
    addBulk(crm.root, 9_000_000, 9); // past one 8 MiB part: the archive goes up as a multipart upload
    const prefix = `${runPrefix}cli-transient-${++n}/`;
    proxy.setRules([{ methods: ["GET", "PUT", "POST", "HEAD", "DELETE"], fraction: 0.3, maxInARow: 2, faults: ["reset", "500", "503", "slowdown"] }], 42);
    const before = Object.values(proxy.stats.injected).reduce((a, b) => a + b, 0);
    const run = await cli(["backup", "--json"], { cwd: tempDir("fault-s3-cli-"), env: s3Env(prefix, crm.root) });
    const injected = Object.values(proxy.stats.injected).reduce((a, b) => a + b, 0) - before;
    proxy.setRules([]);
    const engine = directEngine(prefix, crm.root);
    const listed = await listBackups(engine.storage);
    const report = run.code === 0 ? await verifyBackup(engine, json<{ id: string }>(run).id) : null;
    const open = await incompleteUploads(admin, ls.bucket, prefix);
    const held = run.code === 0 && listed.length === 1 && report?.ok === true && open.length === 0;
    recordFault({ suite: "s3", fault: "CLI backup, ~30% transient faults (seed 42)", trials: 1, held: held ? 1 : 0, lost: 0, note: `${injected} faults injected; exit ${run.code}${run.code ? `: ${run.stderr.trim().slice(0, 80)}` : ""}` });
    expect(run.code, run.stderr).toBe(0);
    expect(injected).toBeGreaterThan(0);
    expect(listed.map((b) => b.id)).toEqual([json<{ id: string }>(run).id]);
    expect(report?.ok).toBe(true);
    expect(open).toEqual([]);
  });

  // v1 sends its archive as a multipart upload; v2 puts each pack (a few MiB) in one request.
  it.each([
    { format: "v1", what: "part uploads", rule: { methods: ["PUT"], query: multipartPart, fraction: 1, faults: ["500", "reset"] as Fault[] } },
    { format: "v2", what: "pack uploads", rule: { methods: ["PUT"], path: (p: string) => p.includes("/data/packs/"), fraction: 1, faults: ["500", "reset"] as Fault[] } },
  ])("a whole CLI backup ($format) to S3 whose $what always fail: exit 1, nothing listed, no archive, no open upload (~5 s)", async ({ format, what, rule }) => {
    const crm = makeCrm();
    addBulk(crm.root, 9_000_000, 10);
    const prefix = `${runPrefix}cli-persistent-${++n}/`;
    proxy.setRules([rule]);
    const run = await cli(["backup", "--json"], { cwd: tempDir("fault-s3-cli-"), env: { ...s3Env(prefix, crm.root), BACKUP_FORMAT: format } });
    proxy.setRules([]);
    const engine = directEngine(prefix, crm.root);
    const listed = await listBackups(engine.storage);
    const archives = (await engine.storage.list("")).filter((o) => o.key.endsWith(".tar.gz")).map((o) => o.key);
    const open = await incompleteUploads(admin, ls.bucket, prefix);
    const held = run.code === 1 && listed.length === 0 && archives.length === 0 && open.length === 0;
    recordFault({ suite: "s3", fault: `CLI backup (${format}), ${what} always fail`, trials: 1, held: held ? 1 : 0, lost: listed.length || archives.length || open.length ? 1 : 0, note: `exit ${run.code}: ${json<{ error?: { message?: string } }>(run).error?.message?.slice(0, 90) ?? ""}` });
    expect(run.code).toBe(1);
    // The message says which store failed, not only the SDK's words.
    expect(json<{ error?: { message?: string } }>(run).error?.message).toContain(`s3://${ls.bucket}/${prefix}`);
    expect(listed).toEqual([]);
    expect(archives).toEqual([]);
    expect(open).toEqual([]);
  });
});
