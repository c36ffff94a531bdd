// The `serve` command line: flags, start-up messages (including the one-time sign-in link), and graceful shutdown.
import { parseArgs } from "node:util";
import { ConfigError, ValidationError, errorMessage } from "../core/errors.ts";
import { jsonLogger } from "../core/engine.ts";
import { buildRuntime } from "../runtime/local.ts";
import { startServer } from "./serve.ts";

export const SERVE_OPTIONS = { port: { type: "string" }, host: { type: "string" } } as const;

export async function serveCommand(args: string[]): Promise<number> {
  let port: number | undefined;
  let host: string | undefined;
  let runtime;
  try {
    const { values, positionals } = parseArgs({ args, options: SERVE_OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length) throw new ValidationError(`serve takes no arguments; got ${positionals.join(" ")}`);
    if (values.port !== undefined) {
      port = Number(values.port);
      if (!/^\d+$/.test(values.port) || port > 65535) throw new ValidationError(`--port must be a port number (0 picks a free one); got "${values.port}"`);
    }
    host = values.host;
    runtime = await buildRuntime();
  } catch (err) {
    process.stderr.write(`colab-backup serve: ${errorMessage(err).replace(/\. To specify.*$/s, "")}\n`);
    return err instanceof ValidationError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1;
  }
  runtime.engine.log = jsonLogger(process.stderr);
  if (runtime.demoCrm) process.stderr.write(`No CRM_ROOT set: serving backups of the demo CRM at ${runtime.demoCrm.root}\n`);
  let server;
  try {
    server = await startServer(runtime, { port, host });
  } catch (err) {
    process.stderr.write(`colab-backup serve: start server: ${errorMessage(err)}\n`);
    return 1;
  }
  if (server.recovered) process.stderr.write(`colab-backup serve: ${server.recovered.message}.\n`);
  process.stdout.write(`colab-backup dashboard and API on ${server.url}  (backups in ${runtime.config.backupDir})\n`);
  const next = server.scheduler.nextRuns();
  process.stdout.write(`Schedules (${runtime.config.timeZone}): ${Object.entries(next).map(([k, v]) => `${k} next ${v}`).join("; ")}\n`);
  if (server.signInUrl) {
    process.stdout.write(
      `\nWARNING: no JWT_SECRET is set, so a local one was generated (kept in ${runtime.config.backupDir}/.jwt-secret).\n` +
        `For local use only, sign in as admin with this link (valid 12 hours):\n  ${server.signInUrl}\n` +
        `In production set JWT_SECRET to the CRM's secret (or JWKS_URL) so admins sign in with their CRM tokens.\n\n`,
    );
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`${signal}: stopping; a running backup is allowed to finish\n`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await server.close();
  return 0;
}
