// Runs one parsed command against the local runtime, prints its result, and turns errors into messages and exit codes.
import { BackupError, ConfigError, ValidationError, errorMessage } from "../core/errors.ts";
import { startupRecovery } from "../core/startup.ts";
import type { Command, CommandContext } from "./commands.ts";
import { buildRuntime } from "../runtime/local.ts";

export async function runCommand(name: string, command: Command, parsed: { values: Record<string, unknown>; positionals: string[] }): Promise<number> {
  const json = parsed.values.json === true;
  try {
    const args = command.parse({ values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals });
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
    return reportError(name, err, json, false);
  }
}

/** Prints "colab-backup <command>: <message>" (and the JSON error document under --json); exit 2 for usage and configuration. */
export function reportError(name: string, err: unknown, json: boolean, usage: boolean): number {
  const isUsage = usage || err instanceof ConfigError || err instanceof ValidationError;
  const message = errorMessage(err);
  process.stderr.write(`colab-backup ${name}: ${message}\n`);
  if (!isUsage && !(err instanceof BackupError) && process.env.BACKUP_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
  if (json) {
    const code = err instanceof BackupError ? err.code : isUsage ? "validation_error" : "internal_error";
    process.stdout.write(JSON.stringify({ ok: false, error: { code, message } }, null, 2) + "\n");
  }
  return isUsage ? 2 : 1;
}
