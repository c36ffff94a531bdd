// The restore lease's beat thread inside one bundled file, as a Lambda function runs it: SST bundles each handler with
// esbuild (ESM, platform node, a createRequire banner, better-sqlite3 installed beside it, not bundled), so no separate
// lock-beat-thread.js exists there. The thread must still start from the bundle and renew the lease while the main
// thread is held, on the fs store and on S3 (LocalStack). When the thread could only start from lock-beat-thread.js, the
// bundle's thread failed to start and the lock silently fell back to the 10-minute main-thread lease: this test failed.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../core/config.ts";
import { s3TestPrefix } from "./localstack/s3-test-prefix.ts";
import { tempDir } from "./helpers/crm.ts";

const { ls, prefix } = s3TestPrefix("lock-bundle");

const LEASE = { ttlMs: 3000, heartbeatMs: 300 };
const KEY = "locks/bundle-test.json";

/** A handler-like entry bundled as SST bundles a function; its folder gets node_modules, where SST installs the externals. */
async function bundle(): Promise<string> {
  const dir = tempDir("lock-bundle-");
  const entry = path.join(dir, "entry.ts");
  // Like functions/*.ts: the module only defines its handler (the thread loads this bundle too, so top-level code would
  // run there as well); Lambda's runtime imports it and calls the handler.
  writeFileSync(entry, `
    import { acquireLock, readLock } from ${JSON.stringify(path.resolve("core/lock.ts"))};
    import { storageFromConfig } from ${JSON.stringify(path.resolve("core/storage/from-config.ts"))};
    export async function handler(config) {
      const storage = await storageFromConfig(config);
      const lock = await acquireLock(storage, ${JSON.stringify(KEY)}, { id: "restore-bundled", operation: "restore" }, { thread: { config, ...${JSON.stringify(LEASE)} } });
      const first = lock.record;
      // Held as SQLite's page copy holds it: no timer or I/O callback of this thread runs meanwhile.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${4 * LEASE.heartbeatMs});
      const during = await readLock(storage, ${JSON.stringify(KEY)});
      await lock.release();
      return { first, during };
    }
  `);
  const outfile = path.join(dir, "out", "index.mjs");
  await build({
    entryPoints: [entry], outfile, bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "error",
    external: ["better-sqlite3"],
    banner: { js: "import { createRequire as topLevelCreateRequire } from 'module'; const require = topLevelCreateRequire(import.meta.url);" },
  });
  symlinkSync(path.resolve("node_modules"), path.join(dir, "out", "node_modules"));
  writeFileSync(path.join(dir, "out", "invoke.mjs"), `
    const { handler } = await import("./index.mjs");
    process.stdout.write(JSON.stringify(await handler(JSON.parse(process.env.LEASE_CONFIG))) + "\\n");
  `);
  return path.join(dir, "out", "invoke.mjs");
}

const stores: { name: string; config: () => Config }[] = [
  { name: "fs", config: () => loadConfig({ BACKUP_DIR: tempDir("lock-bundle-fs-") }) },
  { name: "S3 (LocalStack)", config: () => loadConfig({ BACKUP_STORAGE: "s3", BACKUP_BUCKET: ls.bucket, BACKUP_S3_PREFIX: `${prefix}${randomBytes(3).toString("hex")}/`, AWS_REGION: ls.region, AWS_ENDPOINT_URL: ls.endpoint }) },
];

describe("the lease's beat thread in a bundled function", () => {
  let bundled: Promise<string> | undefined;
  for (const store of stores) {
    it(`starts from the bundle and renews the short lease while the main thread is held (${store.name})`, async () => {
      bundled ??= bundle();
      const file = await bundled;
      const env = { ...process.env, LEASE_CONFIG: JSON.stringify(store.config()) };
      // Run from a folder of its own, as Lambda runs /var/task/index.mjs: nothing of the repository's layout is nearby.
      const run = spawnSync(process.execPath, [file], { cwd: path.dirname(file), env, encoding: "utf8", timeout: 60_000 });
      expect(run.status, run.stderr).toBe(0);
      const { first, during } = JSON.parse(run.stdout.trim()) as { first: { heartbeatAt: string; expiresAt: string }; during: { heartbeatAt: string } | null };
      // The thread's lease, not the 10-minute fallback of a thread that could not start.
      expect(Date.parse(first.expiresAt) - Date.parse(first.heartbeatAt)).toBe(LEASE.ttlMs);
      // Renewed by the thread while the main thread could run nothing.
      expect(during).not.toBeNull();
      expect(Date.parse(during!.heartbeatAt)).toBeGreaterThan(Date.parse(first.heartbeatAt));
    });
  }
});
