// `colab-backup serve` as a process and as a server object: first-start sign-in link, shutdown that lets a backup finish.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listBackups } from "../core/catalog.ts";
import { buildRuntime } from "../runtime/local.ts";
import { startServer } from "../cli/serve.ts";
import { mintAdminToken } from "../runtime/local-auth.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";

const BIN = path.join(import.meta.dirname, "..", "bin", "colab-backup.js");

describe("serve", () => {
  it("on a first start without JWT_SECRET prints a working one-time admin sign-in link, with a warning", async () => {
    const cwd = tempDir("serve-cli-");
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0"], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    try {
      await expect.poll(() => out, { timeout: 30_000 }).toMatch(/#token=\S+/);
      expect(out).toMatch(/WARNING: no JWT_SECRET is set[\s\S]*For local use only/);
      const link = /(http:\/\/\S+)\/#token=(\S+)/.exec(out)!;
      const res = await fetch(`${link[1]}/api/backup`, { headers: { authorization: `Bearer ${link[2]}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ total: 0, items: [] });
      expect((await fetch(`${link[1]}/api/backup`)).status).toBe(401);
      // The dashboard's files, found from wherever the CLI runs (the bundle in dist/bundle/ when built).
      const page = await fetch(`${link[1]}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<title>CO_LAB backups</title>");
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
    expect(child.exitCode).toBe(0);
  });

  it("waits for a running backup before it stops", async () => {
    const secret = "x".repeat(40);
    const runtime = await buildRuntime({ cwd: tempDir("serve-stop-"), env: { CRM_ROOT: makeCrm().root, JWT_SECRET: secret } });
    const server = await startServer(runtime, { port: 0, schedule: false });
    expect(server.signInUrl).toBeNull();
    const res = await fetch(`${server.url}/api/backup/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${await mintAdminToken(secret)}`, "content-type": "application/json" },
      body: JSON.stringify({ description: "in flight at shutdown" }),
    });
    expect(res.status).toBe(202);
    const { backupId } = await res.json();
    await server.close();
    const listed = await listBackups(runtime.engine.storage);
    expect(listed.map((b) => b.id)).toEqual([backupId]);
  });
});

describe("serve notifications", () => {
  it("emails a finished backup through the event flow into the outbox", async () => {
    const secret = "y".repeat(40);
    const cwd = tempDir("serve-mail-");
    const runtime = await buildRuntime({ cwd, env: { CRM_ROOT: makeCrm().root, JWT_SECRET: secret, BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "ops@crm.io" } });
    const server = await startServer(runtime, { port: 0 });
    const res = await fetch(`${server.url}/api/backup/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${await mintAdminToken(secret)}`, "content-type": "application/json" },
      body: JSON.stringify({}),
    });
    const { backupId } = await res.json();
    await server.close();
    const outbox = path.join(cwd, "backups", "outbox");
    const files = readdirSync(outbox).sort();
    expect(files.some((f) => f.includes("backup-system-started"))).toBe(true);
    const success = files.find((f) => f.includes("manual-backup-succeeded"));
    expect(success).toBeDefined();
    const eml = readFileSync(path.join(outbox, success!), "utf8");
    expect(eml).toContain(backupId);
    expect(eml).toMatch(/^To: ops@crm.io/m);
  });
});
