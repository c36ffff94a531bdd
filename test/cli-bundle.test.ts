// The built CLI runs from dist/bundle/ (cli/build-bundle.mjs): what it finds beside itself must still be found there.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../core/config.ts";
import { BEAT_THREAD_FLAG } from "../core/lock-beat-thread.ts";
import { tempDir } from "./helpers/crm.ts";

const REPO = path.join(import.meta.dirname, "..");
const BUNDLE = path.join(REPO, "dist", "bundle");

describe("the bundled CLI", () => {
  it("is built, reads its version from package.json, and its lock beat thread starts from the bundle", async () => {
    expect(existsSync(path.join(BUNDLE, "main.js")), "dist/bundle/main.js is missing: run `npm run build`").toBe(true);
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string };
    expect(execFileSync(process.execPath, [path.join(BUNDLE, "main.js"), "--version"], { encoding: "utf8" })).toContain(`colab-backup ${pkg.version} `);
    // core/lock.ts starts ./lock-beat-thread.js beside its own chunk; the thread builds its store client and says ready.
    expect(readdirSync(BUNDLE)).toContain("lock-beat-thread.js");
    const store = path.join(tempDir("bundle-store-"), "s");
    mkdirSync(store);
    const config = loadConfig({ CRM_ROOT: tempDir("bundle-crm-"), BACKUP_DIR: store, BACKUP_EMAIL_ENABLED: "false" });
    const worker = new Worker(new URL(`file://${path.join(BUNDLE, "lock-beat-thread.js")}`), { workerData: { config, [BEAT_THREAD_FLAG]: true } });
    try {
      const first = await new Promise<unknown>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
        setTimeout(() => reject(new Error("the beat thread sent nothing in 15 s")), 15_000).unref();
      });
      expect(first).toEqual({ type: "ready", description: store });
    } finally {
      await worker.terminate();
    }
  });
});

