// `colab-backup serve`: the HTTP server of the local runtime (runtime/local.ts builds what it serves). Dashboard and API on PORT, schedules in-process.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { serve, type ServerType } from "@hono/node-server";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono } from "hono";
import { createApp } from "../api/app.ts";
import { dashboardSecurityHeaders } from "../api/security-headers.ts";
import type { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { mintAdminToken } from "../runtime/local-auth.ts";
import type { Runtime } from "../runtime/local.ts";
import { buildLocalServices } from "../runtime/local-services.ts";
import type { Scheduler } from "../runtime/scheduler.ts";
import { startupRecovery } from "../core/startup.ts";
import type { Recovery } from "../core/restore-recovery.ts";

// web/ sits beside cli/ in a checkout and two levels up from dist/cli/serve.js when compiled.
export const WEB_ROOT = ["../web/", "../../web/"].map((rel) => fileURLToPath(new URL(rel, import.meta.url))).find((dir) => existsSync(path.join(dir, "index.html"))) ?? fileURLToPath(new URL("../web/", import.meta.url));

export interface Server {
  url: string;
  port: number;
  scheduler: Scheduler;
  runner: LocalJobRunner;
  /** What start-up did about a restore that an earlier process left unfinished. */
  recovered: Recovery | null;
  /** Set when the JWT secret was generated locally: a link that signs the admin in. */
  signInUrl: string | null;
  close(): Promise<void>;
}

export async function startServer(runtime: Runtime, opts: { port?: number; host?: string; schedule?: boolean } = {}): Promise<Server> {
  const { engine, config } = runtime;
  // Before anything can read or back up the CRM: a restore that died with the last process is ended now.
  const recovered = await startupRecovery(engine);
  // Bus, notifications, job runner, scheduler and the API's deps: built once, in the local composition root.
  const { bus, runner, scheduler, api: deps, generatedSecret } = await buildLocalServices(runtime);

  const app = new Hono();
  app.route("/", createApp(deps));
  // Only the dashboard's files reach this: every /api path is answered by the app above. The API is this origin.
  app.use("/*", dashboardSecurityHeaders());
  // The dashboard at / and at the original system's address, /frontend/backup.html (its relative assets follow it there).
  const root = path.relative(process.cwd(), WEB_ROOT) || ".";
  app.get("/frontend/backup.html", serveStatic({ root, path: "index.html" }));
  app.use("/frontend/*", serveStatic({ root, rewriteRequestPath: (p) => p.replace(/^\/frontend/, "") }));
  app.use("/*", serveStatic({ root }));

  const port = opts.port ?? config.server.port;
  const host = opts.host ?? "127.0.0.1";
  let server!: ServerType;
  const actualPort = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, port, hostname: host }, (info) => resolve(info.port));
    server.once("error", reject);
  });
  if (opts.schedule !== false) {
    scheduler.start();
    await bus.publish("system.initialized", { version: 1, host: engine.host, schedules: config.schedules, timeZone: config.timeZone, store: engine.storage.description });
  }
  const url = `http://${host === "0.0.0.0" ? "localhost" : host}:${actualPort}`;
  const signInUrl = generatedSecret && deps.auth.jwtSecret ? `${url}/#token=${await mintAdminToken(deps.auth.jwtSecret)}` : null;

  return {
    url,
    port: actualPort,
    scheduler,
    runner,
    recovered,
    signInUrl,
    async close() {
      scheduler.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // A backup that is running finishes before the process goes, and so does its email.
      await runner.idle();
      await bus.drain();
    },
  };
}
