// The colab-backup CLI: parses the command line, runs one command, and maps errors to exit codes (1 failed, 2 usage/config).
import { parseArgs } from "node:util";
import { BackupError, ConfigError, ValidationError, errorMessage } from "../core/errors.ts";
import { COMMANDS, USAGE, type CommandContext } from "./commands.ts";
import { buildRuntime } from "./runtime.ts";
import { startupRecovery } from "../core/startup.ts";

class UsageError extends ValidationError {}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const wantsJson = rest.includes("--json");
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  // Loaded only for serve: the HTTP stack costs every other command a second of start-up.
  if (name === "serve") return (await import("./serve-command.ts")).serveCommand(rest);
  try {
    if (!command) throw new UsageError(`unknown command "${name}"; run \`colab-backup help\` for the list`);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...command.options, json: { type: "boolean" } }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(`${name}: ${errorMessage(err).replace(/\. To specify.*$/s, "")}; run \`colab-backup help\``);
    }
    const { values, positionals } = parsed;
    const json = values.json === true;
    const args = command.parse({ values: values as Record<string, string | boolean | undefined>, positionals });
    const runtime = await buildRuntime({ verbose: !json && process.env.BACKUP_LOG === "json" });
    if (runtime.demoCrm && !json) {
      process.stderr.write(`No CRM_ROOT set: using the demo CRM at ${runtime.demoCrm.root}${runtime.demoCrm.created ? " (created it just now)" : ""}\n`);
    }
    const recovered = await startupRecovery(runtime.engine);
    if (recovered) process.stderr.write(`colab-backup: ${recovered.message}.\n`);
    const ctx: CommandContext = { runtime, json, tty: !json && process.stderr.isTTY === true };
    const result = await command.run(ctx, args);
    if (result.quiet) {
      // The command wrote its own output (an archive on stdout).
    } else if (json) process.stdout.write(JSON.stringify(result.json, null, 2) + "\n");
    else process.stdout.write(result.text.endsWith("\n") ? result.text : result.text + "\n");
    return result.exitCode ?? 0;
  } catch (err) {
    const usage = err instanceof ConfigError || err instanceof ValidationError;
    const message = errorMessage(err);
    process.stderr.write(`colab-backup ${name ?? ""}: ${message}\n`);
    if (!(err instanceof BackupError) && process.env.BACKUP_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    if (wantsJson) {
      const code = err instanceof BackupError ? err.code : "internal_error";
      process.stdout.write(JSON.stringify({ ok: false, error: { code, message } }, null, 2) + "\n");
    }
    return usage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
