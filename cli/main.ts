// The colab-backup CLI: parses the command line, runs one command, and maps errors to exit codes (1 failed, 2 usage/config).
// Help and --version are answered before any of core is loaded, so they start as fast as Node does.
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { COMMAND_NAMES, HELP, commandHelpText, didYouMean, usageText } from "./help.ts";
import { tuneHeap } from "../core/heap-tuning.ts";

/** Thrown for a wrong command line; main maps it to exit 2 like core's ValidationError. */
class UsageError extends Error {}

const quote = (s: string) => `"${s}"`;

function version(): string {
  // cli/main.ts in a checkout, dist/cli/main.js when compiled: package.json is one or two folders up.
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "colab-backup" && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return "unknown";
}

function unknownCommand(name: string): UsageError {
  // Before a command only --help and --version are flags; anything else dash-led is a misplaced or mistyped flag.
  if (name.startsWith("-")) return new UsageError(`unknown option '${name}'${didYouMean(name, ["--help", "--version"], (s) => `'${s}'`)}; flags go after the command, see \`colab-backup help\``);
  return new UsageError(`unknown command "${name}"${didYouMean(name, [...COMMAND_NAMES, "help"], quote)}; run \`colab-backup help\` for the list`);
}

/** A loose pass before the strict one: --help anywhere (not as a flag's value) prints help; an unknown flag gets a suggestion. */
function looseFlagCheck(name: string, options: NonNullable<ParseArgsConfig["options"]>, args: string[]): "help" | undefined {
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  if (tokens.some((t) => t.kind === "option" && (t.name === "help" || t.name === "h"))) {
    process.stdout.write(commandHelpText(name));
    return "help";
  }
  const known = Object.keys(options).map((o) => `--${o}`);
  for (const t of tokens) {
    if (t.kind === "option" && !(t.name in options)) {
      throw new UsageError(`unknown option '${t.rawName}'${didYouMean(`--${t.name}`, known, (s) => `'${s}'`)}; run \`colab-backup ${name} --help\` for its flags`);
    }
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const wantsJson = rest.includes("--json");
  if (name === "--version" || name === "-V" || name === "version") {
    process.stdout.write(`colab-backup ${version()} (node ${process.version})\n`);
    return 0;
  }
  if (!name || name === "--help" || name === "-h") {
    process.stdout.write(usageText());
    return name ? 0 : 2;
  }
  try {
    if (name === "help") {
      const [topic, ...extra] = rest;
      if (!topic) {
        process.stdout.write(usageText());
        return 0;
      }
      if (extra.length) throw new UsageError(`help takes one command name; got ${rest.join(" ")}`);
      if (!HELP[topic]) throw unknownCommand(topic);
      process.stdout.write(commandHelpText(topic));
      return 0;
    }
    if (!HELP[name]) throw unknownCommand(name);
    tuneHeap(); // every command that works on data, serve included (core/heap-tuning.ts)
    // Loaded only for serve: the HTTP stack costs every other command a second of start-up.
    if (name === "serve") {
      const serve = await import("./serve-command.ts");
      if (looseFlagCheck(name, serve.SERVE_OPTIONS, rest) === "help") return 0;
      return serve.serveCommand(rest);
    }
    const { COMMANDS } = await import("./commands.ts");
    const command = COMMANDS[name]!;
    const options = { ...command.options, json: { type: "boolean" as const } };
    if (looseFlagCheck(name, options, rest) === "help") return 0;
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    } catch (err) {
      // Node's messages span lines and end in a full stop; keep them on the one line the other errors use.
      throw new UsageError(`${(err as Error).message.replace(/\s*\n\s*/g, " ").replace(/\.$/, "")}; run \`colab-backup ${name} --help\``);
    }
    return await (await import("./run-command.ts")).runCommand(name, command, parsed);
  } catch (err) {
    if (!(err instanceof UsageError)) return (await import("./run-command.ts")).reportError(name, err, wantsJson, false);
    process.stderr.write(`colab-backup ${name}: ${err.message}\n`);
    if (wantsJson) process.stdout.write(JSON.stringify({ ok: false, error: { code: "validation_error", message: err.message } }, null, 2) + "\n");
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
