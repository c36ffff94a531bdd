// The CLI as a user runs it: a real process, exit codes, one JSON document, messages that say what to fix.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { Writer } from "./fixtures/sqlite-children.ts";
import type { Engine } from "../core/engine.ts";
import { readManifest } from "../core/catalog.ts";
import { FsStorage } from "../core/storage/fs-storage.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { flipStoredByte } from "./helpers/damage-backup.ts";

const BIN = path.join(import.meta.dirname, "..", "bin", "colab-backup.js");

interface Run { code: number; stdout: string; stderr: string }
function cli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env };
    execFile(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("colab-backup CLI", () => {
  it("works out of the box on a demo CRM that it creates and names", async () => {
    const cwd = tempDir("cli-demo-");
    const first = await cli(["backup"], { cwd });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`demo CRM at ${path.join(cwd, "demo-crm")} (created it just now)`);
    expect(first.stdout).toMatch(/Backup manual-\d{8}T\d{6}Z-[0-9a-f]{6} complete and verified/);
    expect(existsSync(path.join(cwd, "demo-crm/prisma/dev.db"))).toBe(true);

    const json = await cli(["backup", "--type", "daily", "--description", "nightly", "--json"], { cwd });
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({ ok: true, id: expect.stringMatching(/^daily-/), manifest: { description: "nightly" } });

    const list = JSON.parse((await cli(["list", "--json"], { cwd })).stdout);
    expect(list.backups.map((b: { id: string }) => b.id)).toContain(doc.id);
    const daily = JSON.parse((await cli(["list", "--type", "daily", "--json"], { cwd })).stdout);
    expect(daily.backups).toHaveLength(1);

    const verify = await cli(["verify", "latest", "--json"], { cwd });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout).report).toMatchObject({ id: doc.id, ok: true });

    const status = JSON.parse((await cli(["status", "--json"], { cwd })).stdout);
    expect(status).toMatchObject({ ok: true, demo: true, backups: { total: 2, byType: { daily: 1, manual: 1 } } });
    expect(status.schedules.daily.nextRun).toMatch(/T02:00:00.000Z$/);
  });

  it("restores through the CLI and deletes with an audit trail", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-restore-");
    const env = { CRM_ROOT: crm.root };
    const { id } = JSON.parse((await cli(["backup", "--json"], { cwd, env })).stdout);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "damaged");
    const noConfirm = await cli(["restore", id, "--components", "uploads"], { cwd, env });
    expect(noConfirm.code).toBe(2);
    expect(noConfirm.stderr).toContain("--confirm CONFIRM_RESTORE");
    const wrong = await cli(["restore", id, "--components", "uploads", "--confirm", "yes"], { cwd, env });
    expect(wrong.code).toBe(2);
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("damaged");

    const ok = await cli(["restore", id, "--components", "uploads", "--confirm", "CONFIRM_RESTORE", "--json"], { cwd, env });
    expect(ok.code).toBe(0);
    const restored = JSON.parse(ok.stdout);
    expect(restored).toMatchObject({ ok: true, backupId: id, components: ["uploads"], preRestoreBackupId: expect.stringMatching(/^pre-restore-/) });
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("alpha\n");

    const del = await cli(["delete", restored.preRestoreBackupId, "--json"], { cwd, env });
    expect(JSON.parse(del.stdout)).toMatchObject({ ok: true, deleted: restored.preRestoreBackupId });
    const again = await cli(["delete", restored.preRestoreBackupId], { cwd, env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no backup with id/);
    const audit = readFileSync(path.join(cwd, "backups/audit", (await import("node:fs")).readdirSync(path.join(cwd, "backups/audit")).sort().at(-1)!), "utf8");
    expect(JSON.parse(audit)).toMatchObject({ action: "delete", result: "succeeded" });
  });

  it.each([
    [["frobnicate"], /unknown command "frobnicate"/],
    [["backup", "--type", "hourly"], /--type must be one of daily, weekly, monthly, manual; got "hourly"/],
    [["backup", "--components", "database,secrets"], /--components must be one of database, uploads, config, logs; got "secrets"/],
    [["backup", "--bogus"], /unknown option '--bogus'; run `colab-backup backup --help`/],
    [["verify"], /verify needs a backup id or 'latest'/],
    [["verify", "../../etc/passwd"], /is not a backup id/],
    [["restore", "latest", "--components", "all"], /add --confirm CONFIRM_RESTORE to go ahead/],
    [["restore", "daily-20261126T020000Z-abcdef", "--components", "database,secrets", "--confirm", "CONFIRM_RESTORE"], /--components must be one of database, uploads, config, logs; got "secrets"/],
    [["list", "--type", "yearly"], /--type must be one of/],
  ])("exits 2 on usage error %j", async (args, message) => {
    const cwd = tempDir("cli-usage-");
    const run = await cli([...args, "--json"], { cwd });
    expect(run.code).toBe(2);
    // Nothing is created for a command line that is wrong.
    expect(existsSync(path.join(cwd, "demo-crm"))).toBe(false);
    expect(run.stderr).toMatch(message);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { message: expect.stringMatching(message) } });
  });

  it("exits 2 on a bad configuration, naming the variable", async () => {
    const run = await cli(["status"], { cwd: tempDir("cli-env-"), env: { BACKUP_RETENTION_DAILY: "lots", TZ: "Moon/Base" } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/BACKUP_RETENTION_DAILY must be a whole number[\s\S]*TZ must be an IANA time zone/);
  });

  it.each(["v2", "v1"])("exits 1 when verify finds a damaged backup (%s)", async (format) => {
    const cwd = tempDir("cli-damaged-");
    const { id, manifest } = JSON.parse((await cli(["backup", "--json"], { cwd, env: { BACKUP_FORMAT: format } })).stdout);
    // --json prints the manifest without its file lists; the stored one names the pieces to damage.
    expect(manifest.components.uploads).not.toHaveProperty("files");
    const backupDir = path.join(cwd, "backups");
    flipStoredByte({ config: { backupDir } } as Engine, await readManifest(new FsStorage(backupDir), id), "uploads");
    const run = await cli(["verify", id, "--json"], { cwd });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, report: { ok: false } });
  });

  it.each(["wal", "delete"] as const)("backs up a consistent database while another process writes to it (%s mode)", async (mode) => {
    const crm = makeCrm(undefined, mode);
    const db = new Database(crm.db);
    db.exec("CREATE TABLE a (id INTEGER PRIMARY KEY, payload BLOB); CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, payload BLOB)");
    db.close();
    const writer = await Writer.start(crm.db);
    let run: Run;
    try {
      run = await cli(["backup", "--components", "database", "--json"], { cwd: tempDir("cli-live-"), env: { CRM_ROOT: crm.root } });
    } finally {
      await writer.stop().catch(() => writer.kill());
    }
    expect(run.code).toBe(0);
    const facts = JSON.parse(run.stdout).manifest.components.database.database;
    expect(facts.integrityCheck).toBe("ok");
    expect(facts.journalMode).toBe(mode);
    expect(facts.tables.a).toBeGreaterThan(0);
    expect(facts.tables.a).toBe(facts.tables.b);
  });

  it("draws a progress bar on a terminal and none when piped", async () => {
    const cwd = tempDir("cli-tty-");
    // `script` gives the CLI a real pseudo-terminal, as a person at a shell would.
    const tty = await new Promise<string>((resolve, reject) =>
      execFile("script", ["-qc", `${process.execPath} ${BIN} backup`, "/dev/null"], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(tty).toMatch(/Archiving +\[#+\] 100%/);
    expect(tty).toMatch(/Verifying +\[#+\] 100%/);
    const piped = await cli(["backup"], { cwd });
    expect(piped.stderr).not.toMatch(/Archiving|\[#/);
  });
});
