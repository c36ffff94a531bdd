// `colab-backup serve`: the local runtime. Dashboard and API on PORT, schedules in-process, jobs off the request path.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { serve, type ServerType } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono } from "hono";
import { createApp } from "../api/app.ts";
import type { ApiDeps } from "../api/deps.ts";
import { downloadFrom } from "../api/download.ts";
import { dashboardSecurityHeaders } from "../api/security-headers.ts";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { localMailer } from "../core/notify/mailer.ts";
import { Notifications } from "../core/notify/notifications.ts";
import { saveEmailStatus } from "../core/notify/email-status.ts";
import { InProcessBus } from "../core/events/bus.ts";
import { eventForJob } from "../core/events/job-events.ts";
import { NOTIFIER_PATTERN } from "../core/events/patterns.ts";
import { localJwtSecret, mintAdminToken } from "./local-auth.ts";
import type { Runtime } from "./runtime.ts";
import { Scheduler } from "./scheduler.ts";
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
  const notifications = new Notifications(config.email, localMailer(config), engine.log, (r) => saveEmailStatus(engine.storage, r));
  // The same flow as on AWS, in one process: finished jobs become events, a rule-like subscription turns them into mail.
  const bus = new InProcessBus(engine.log);
  bus.subscribe(NOTIFIER_PATTERN, (event) => notifications.forEvent(event).then(() => undefined));
  const runner = new LocalJobRunner(engine, {
    async onFinished(job) {
      const event = eventForJob(job);
      if (event) await bus.publish(event.type, event.detail as never);
    },
  });
  const scheduler = new Scheduler(engine, runner, bus);
  const auth = config.server.jwksUrl ? { jwksUrl: config.server.jwksUrl } : { jwtSecret: (await localJwtSecret(config.backupDir, config.server.jwtSecret)).secret };
  const generatedSecret = !config.server.jwksUrl && !config.server.jwtSecret;

  const deps: ApiDeps = {
    engine,
    jobs: runner,
    auth,
    download: downloadFrom(engine.storage),
    notifications: {
      sendTest: (actor) => notifications.sendTest(actor),
      lastResult: () => notifications.lastResult(),
      get enabled() {
        return notifications.enabled;
      },
      transport: notifications.transport,
    },
    scheduler,
    corsOrigin: config.server.dashboardOrigin,
    healthMaxAgeHours: config.server.healthMaxAgeHours,
    localDir: config.backupDir,
    // The socket's peer: behind a reverse proxy that is the proxy, so all clients share its allowance (see README).
    clientAddress: (c) => getConnInfo(c).remote.address,
  };

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
  const signInUrl = generatedSecret && auth.jwtSecret ? `${url}/#token=${await mintAdminToken(auth.jwtSecret)}` : null;

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
