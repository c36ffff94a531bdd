// Honest outcomes at the CLI: wrong folders are configuration errors (exit 2) naming the variable; a backup of nothing fails.
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeCrm, tempDir } from "./helpers/crm.ts";

const BIN = path.join(import.meta.dirname, "..", "bin", "colab-backup.js");

interface Run { code: number; stdout: string; stderr: string }
function cli(args: string[], env: NodeJS.ProcessEnv, cwd = tempDir("cli-paths-"), uid?: number): Promise<Run> {
  return new Promise((resolve) => {
    const full = { PATH: process.env.PATH, HOME: cwd, ...env };
    execFile(process.execPath, [BIN, ...args], { cwd, env: full, ...(uid === undefined ? {} : { uid, gid: uid }) }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("folders named by the configuration", () => {
  it("refuses a CRM_ROOT or BACKUP_DIR that is missing or not a folder with exit 2, naming the variable", async () => {
    const crm = makeCrm();
    const store = tempDir("store-");
    const file = path.join(store, "a-file");
    writeFileSync(file, "x");
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ CRM_ROOT: path.join(crm.root, "nope"), BACKUP_DIR: store }, /CRM_ROOT=\S+nope does not exist/],
      [{ CRM_ROOT: file, BACKUP_DIR: store }, /CRM_ROOT=\S+a-file is not a folder/],
      [{ CRM_ROOT: crm.root, BACKUP_DIR: path.join(store, "missing") }, /BACKUP_DIR=\S+missing does not exist/],
      [{ CRM_ROOT: crm.root, BACKUP_DIR: file }, /BACKUP_DIR=\S+a-file is not a folder/],
    ];
    for (const [env, message] of cases) {
      const run = await cli(["status"], env);
      expect(run.stderr).toMatch(message);
      expect(run.code).toBe(2);
    }
  });

  it("refuses a BACKUP_DIR this user cannot write to with exit 2", async () => {
    expect(process.getuid?.(), "this test runs the CLI as the unprivileged user nobody, which needs root (CI runs as root)").toBe(0);
    const crm = makeCrm();
    const store = tempDir("store-ro-");
    const cwd = tempDir("cli-nobody-");
    chmodSync(cwd, 0o777);
    chmodSync(crm.root, 0o777);
    chmodSync(store, 0o755); // owned by root: nobody may read but not write
    const run = await cli(["status"], { CRM_ROOT: crm.root, BACKUP_DIR: store }, cwd, 65534);
    expect(run.stderr).toMatch(/BACKUP_DIR=\S+ is not writable by this user/);
    expect(run.code).toBe(2);
  });

  it("fails a backup in which every requested component is missing (exit 1), and takes one of what exists", async () => {
    const crm = makeCrm();
    rmSync(path.join(crm.root, "uploads"), { recursive: true });
    rmSync(path.join(crm.root, "logs"), { recursive: true });
    const env = { CRM_ROOT: crm.root, BACKUP_DIR: tempDir("store-") };
    const none = await cli(["backup", "--components", "uploads,logs", "--json"], env);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout).error.message).toMatch(/every requested component is missing \(uploads: no uploads folder at .*; logs: no logs folder at/);
    const list = JSON.parse((await cli(["list", "--json"], env)).stdout);
    expect(list.backups).toEqual([]);
    mkdirSync(path.join(crm.root, "logs"));
    writeFileSync(path.join(crm.root, "logs", "app.log"), "line\n");
    const some = await cli(["backup", "--components", "uploads,logs", "--json"], env);
    expect(some.code).toBe(0);
    expect(JSON.parse(some.stdout).manifest.components.uploads.status).toBe("missing");
  });
});
