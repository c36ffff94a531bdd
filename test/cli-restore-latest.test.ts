// `restore latest`, default components, progress under a pty, `status`'s health verdict and `list --type` when empty.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { manifestKey } from "../core/ids.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { BIN, cli } from "./helpers/run-cli.ts";

const CONFIRM = ["--confirm", "CONFIRM_RESTORE"];

/** Runs the CLI under `script`, which gives it a real pseudo-terminal as a person at a shell would have. */
function underPty(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<string> {
  const quoted = args.map((a) => `'${a}'`).join(" ");
  return new Promise((resolve, reject) =>
    execFile("script", ["-qec", `${process.execPath} ${BIN} ${quoted}`, "/dev/null"], { cwd: opts.cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env } }, (err, stdout) =>
      err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout),
    ),
  );
}

describe("colab-backup restore latest", () => {
  it("restores the newest backup's components by default, never a pre-restore backup, and still needs the confirmation", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-latest-");
    const env = { CRM_ROOT: crm.root };
    const older = JSON.parse((await cli(["backup", "--json"], { cwd, env })).stdout).id;
    const newest = JSON.parse((await cli(["backup", "--components", "uploads,config", "--json"], { cwd, env })).stdout).id;
    expect(newest).not.toBe(older);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "damaged");
    writeFileSync(path.join(crm.root, "package.json"), "damaged");

    const unconfirmed = await cli(["restore", "latest"], { cwd, env });
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("--confirm CONFIRM_RESTORE");
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("damaged");

    // No --components: every component the newest backup holds (it has no database, so none is asked for).
    const first = await cli(["restore", "latest", ...CONFIRM, "--json"], { cwd, env });
    expect(first.code).toBe(0);
    const done = JSON.parse(first.stdout);
    expect(done).toMatchObject({ ok: true, backupId: newest, components: ["uploads", "config"], preRestoreBackupId: expect.stringMatching(/^pre-restore-/) });
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("alpha\n");
    expect(readFileSync(path.join(crm.root, "package.json"), "utf8")).not.toBe("damaged");

    // The pre-restore backup is now the newest of all; `latest` still means the newest real backup.
    const again = await cli(["restore", "latest", "--components", "all", ...CONFIRM], { cwd, env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Restored uploads, config from ${newest} (the latest backup)`);
    expect(again.stderr).toContain(`restore latest: restoring from ${newest}`);

    // --components all on a full backup is all four, as is no --components at all.
    const all = JSON.parse((await cli(["restore", older, "--components", "all", ...CONFIRM, "--json"], { cwd, env })).stdout);
    expect(all.components).toEqual(["database", "uploads", "config", "logs"]);
    const asked = JSON.parse((await cli(["restore", older, "--components", "uploads", ...CONFIRM, "--json"], { cwd, env })).stdout);
    expect(asked.components).toEqual(["uploads"]);
  });

  it("says there is nothing to restore when the store holds no backup", async () => {
    const run = await cli(["restore", "latest", ...CONFIRM], { cwd: tempDir("cli-latest-empty-"), env: { CRM_ROOT: makeCrm().root } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/restore latest: there is no backup to restore yet.*run `colab-backup backup` first/);
  });
});

describe("colab-backup progress", () => {
  it("shows every restore phase on a terminal, the pre-restore backup's included, with bytes and speed; nothing when piped", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-progress-");
    const env = { CRM_ROOT: crm.root };
    const { id } = JSON.parse((await cli(["backup", "--json"], { cwd, env })).stdout);
    const out = (await underPty(["restore", id, ...CONFIRM], { cwd, env })).replace(/\r/g, "\n");
    expect(out).toMatch(/Backing up current data: snapshotting database +done in \d+\.\d s/);
    expect(out).toMatch(/Backing up current data: reading files +done in/);
    expect(out).toMatch(/Backing up current data: archiving +\[#{20}\] 100% +\d+(\.\d)? KiB \/ \d+(\.\d)? KiB( +\d+(\.\d)? [KMG]?i?B\/s)? +in \d+\.\d s/);
    // Compiled, a small phase can end within a millisecond, so the speed is required of the run as a whole.
    expect(out).toMatch(/ \d+(\.\d)? (B|KiB|MiB|GiB)\/s +in \d+\.\d s/);
    // Verifying covers the packs this backup added; with live data equal to the backup it may add none.
    expect(out).toMatch(/Backing up current data: verifying +(\[#{20}\] 100%|done in \d+\.\d s)/);
    expect(out).toMatch(/Extracting +\[#{20}\] 100% +[\d.]+ KiB \/ [\d.]+ KiB/);
    expect(out).toMatch(/Swapping in +\[#{20}\] 100% +4\/4 components/);
    // The placeholder of old, a pre-restore phase of "1 byte", is gone.
    expect(out).not.toContain("0 B / 1 B");
    expect(out).toMatch(/Restored database, uploads, config, logs from/);

    const piped = await cli(["restore", id, ...CONFIRM], { cwd, env });
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toMatch(/Backing up|Extracting|\[#/);
  });
});

describe("colab-backup status and list", () => {
  it("gives the health verdict the API gives, with its reasons", async () => {
    const cwd = tempDir("cli-health-");
    const env = { CRM_ROOT: makeCrm().root };
    const empty = await cli(["status"], { cwd, env });
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^Health: ATTENTION NEEDED\n  - no successful backup exists yet; run one now\n/);

    const { id } = JSON.parse((await cli(["backup", "--type", "daily", "--json"], { cwd, env })).stdout);
    const healthy = await cli(["status"], { cwd, env });
    expect(healthy.stdout).toMatch(/^Health: OK \(a backup within the last 26 hours/);
    expect(JSON.parse((await cli(["status", "--json"], { cwd, env })).stdout).health).toEqual({ healthy: true, maxAgeHours: 26, reasons: [] });

    // A damaged manifest needs a person: the verdict says so and names it.
    const broken = "daily-20991231T020000Z-aaaaaa";
    writeFileSync(path.join(cwd, "backups", manifestKey(broken)), "{not json");
    const damaged = await cli(["status", "--json"], { cwd, env });
    expect(JSON.parse(damaged.stdout).health).toMatchObject({ healthy: false, reasons: [expect.stringContaining(`1 damaged manifest in the store (${manifestKey(broken)}`)] });
    expect((await cli(["status"], { cwd, env })).stdout).toMatch(/^Health: ATTENTION NEEDED\n  - 1 damaged manifest/);
    expect(id).toMatch(/^daily-/);
  });

  it("list --type with no such backups says which kind is missing and that others exist", async () => {
    const cwd = tempDir("cli-list-type-");
    const env = { CRM_ROOT: makeCrm().root };
    expect((await cli(["list", "--type", "pre-restore"], { cwd, env })).stdout).toBe("No pre-restore backups yet.\n");
    await cli(["backup", "--components", "config"], { cwd, env });
    const run = await cli(["list", "--type", "pre-restore"], { cwd, env });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("No pre-restore backups (1 of other types; `colab-backup list` shows them).\n");
    expect(run.stdout).not.toContain("No backups yet");
  });
});
