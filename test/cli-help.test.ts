// The CLI's help, version and "did you mean", as a user meets them: a real process, stdout, stderr and exit codes.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS as RUNNABLE } from "../cli/commands.ts";
import { HELP } from "../cli/help.ts";
import { SERVE_OPTIONS } from "../cli/serve-command.ts";
import { tempDir } from "./helpers/crm.ts";
import { cli } from "./helpers/run-cli.ts";

const COMMANDS = [...Object.keys(RUNNABLE), "serve"];

describe("colab-backup help", () => {
  it("lists every command, serve included, and the way to a command's help", async () => {
    const run = await cli(["help"], { cwd: tempDir("cli-help-") });
    expect(run.code).toBe(0);
    for (const name of COMMANDS) expect(run.stdout).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    expect(run.stdout).toContain("colab-backup help <command>");
  });

  it("documents every flag that every command takes", () => {
    for (const [name, options] of [...Object.entries(RUNNABLE).map(([n, c]) => [n, c.options] as const), ["serve", SERVE_OPTIONS] as const]) {
      const documented = HELP[name]!.flags.map(([f]) => f.split(/[ ,]/)[0]);
      expect(documented.sort(), name).toEqual(Object.keys(options).map((o) => `--${o}`).sort());
    }
  });

  it.each(COMMANDS)("%s: --help, -h and `help <command>` print its usage, every flag and an example, and touch nothing", async (name) => {
    const cwd = tempDir("cli-help-");
    const runs = [await cli([name, "--help"], { cwd }), await cli([name, "-h"], { cwd }), await cli(["help", name], { cwd })];
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("");
      expect(run.stdout).toContain(`Usage: colab-backup ${name}`);
      for (const [flag] of HELP[name]!.flags) expect(run.stdout).toContain(flag);
      expect(run.stdout).toMatch(new RegExp(`Example:\\n  colab-backup ${name}|Example:\\n  \\S+=\\S+ colab-backup ${name}`));
    }
    expect(runs[1]!.stdout).toBe(runs[0]!.stdout);
    expect(runs[2]!.stdout).toBe(runs[0]!.stdout);
    // Asking for help creates no demo CRM and no store.
    expect(existsSync(path.join(cwd, "demo-crm"))).toBe(false);
    expect(existsSync(path.join(cwd, "backups"))).toBe(false);
  });

  it("--help wins over other flags, but not when it is a flag's value", async () => {
    const cwd = tempDir("cli-help-");
    const help = await cli(["restore", "latest", "--components", "uploads", "--help"], { cwd });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: colab-backup restore");
    const asValue = await cli(["backup", "--description=--help", "--components", "config", "--json"], { cwd });
    expect(asValue.code).toBe(0);
    expect(JSON.parse(asValue.stdout).manifest.description).toBe("--help");
  });

  it("--version prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(path.join(import.meta.dirname, "..", "package.json"), "utf8"));
    const run = await cli(["--version"], { cwd: tempDir("cli-version-") });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^colab-backup ${version.replace(/\./g, "\\.")} \\(node v\\d+`));
  });

  it.each([
    [["bakcup"], /unknown command "bakcup" \(did you mean "backup"\?\)/],
    [["stauts"], /unknown command "stauts" \(did you mean "status"\?\)/],
    [["help", "restroe"], /unknown command "restroe" \(did you mean "restore"\?\)/],
    [["backup", "--tpye", "daily"], /unknown option '--tpye' \(did you mean '--type'\?\); run `colab-backup backup --help`/],
    [["restore", "latest", "--confrim", "CONFIRM_RESTORE"], /unknown option '--confrim' \(did you mean '--confirm'\?\)/],
    [["cleanup", "--dryrun"], /unknown option '--dryrun' \(did you mean '--dry-run'\?\)/],
    [["list", "--jsno"], /unknown option '--jsno' \(did you mean '--json'\?\)/],
    [["serve", "--prot", "8080"], /unknown option '--prot' \(did you mean '--port'\?\); run `colab-backup serve --help`/],
    [["tokne"], /unknown command "tokne" \(did you mean "token"\?\)/],
    [["dif", "a", "b"], /unknown command "dif" \(did you mean "diff"\?\)/],
    [["token", "--tll", "1h"], /unknown option '--tll' \(did you mean '--ttl'\?\)/],
    [["restore", "latest", "--taget", "out"], /unknown option '--taget' \(did you mean '--target'\?\)/],
    [["restore", "latest", "--incldue", "uploads"], /unknown option '--incldue' \(did you mean '--include'\?\)/],
    [["--verison"], /unknown option '--verison' \(did you mean '--version'\?\); flags go after the command/],
  ])("suggests the closest name for %j and exits 2", async (args, message) => {
    const cwd = tempDir("cli-typo-");
    const run = await cli(args, { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(existsSync(path.join(cwd, "demo-crm"))).toBe(false);
  });

  it("suggests nothing when no name is close", async () => {
    const cwd = tempDir("cli-typo-");
    const command = await cli(["frobnicate"], { cwd });
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/unknown command "frobnicate"; run `colab-backup help`/);
    const flag = await cli(["status", "--everything"], { cwd });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--everything'; run `colab-backup status --help`/);
  });
});
