// What `serve` builds on top of the local runtime: bus, notifications, jobs, scheduler and the API's deps. Apart from
// runtime/local.ts so the other commands never load the mailer, the JWT library or the HTTP server's helpers.
import { getConnInfo } from "@hono/node-server/conninfo";
import type { ApiDeps, AuthSettings } from "../api/deps.ts";
import { downloadFrom } from "../api/download.ts";
import { InProcessBus } from "../core/events/bus.ts";
import { eventForJob } from "../core/events/job-events.ts";
import { NOTIFIER_PATTERN } from "../core/events/patterns.ts";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { saveEmailStatus } from "../core/notify/email-status.ts";
import { localMailer } from "../core/notify/mailer.ts";
import { Notifications } from "../core/notify/notifications.ts";
import type { Runtime } from "./local.ts";
import { localJwtSecret } from "./local-auth.ts";
import { Scheduler } from "./scheduler.ts";

/** What `serve` runs on top of the runtime: the same flow as on AWS, in one process. */
export interface LocalServices {
  bus: InProcessBus;
  notifications: Notifications;
  runner: LocalJobRunner;
  scheduler: Scheduler;
  /** The HTTP app's deps, over the engine, runner, scheduler and notifications above. */
  api: ApiDeps;
  /** True when neither JWT_SECRET nor JWKS_URL is set and the secret was generated locally (serve prints a sign-in link). */
  generatedSecret: boolean;
}

export async function buildLocalServices(runtime: Runtime): Promise<LocalServices> {
  const { engine, config } = runtime;
  const notifications = new Notifications(config.email, localMailer(config), engine.log, (r) => saveEmailStatus(engine.storage, r));
  // Finished jobs become events, and a rule-like subscription turns them into mail, as the bus rules do on AWS.
  const bus = new InProcessBus(engine.log);
  bus.subscribe(NOTIFIER_PATTERN, (event) => notifications.forEvent(event).then(() => undefined));
  const runner = new LocalJobRunner(engine, {
    async onFinished(job) {
      const event = eventForJob(job);
      if (event) await bus.publish(event.type, event.detail as never);
    },
  });
  const scheduler = new Scheduler(engine, runner, bus);
  const auth: AuthSettings = config.server.jwksUrl ? { jwksUrl: config.server.jwksUrl } : { jwtSecret: (await localJwtSecret(config.backupDir, config.server.jwtSecret)).secret };
  const api: ApiDeps = {
    engine,
    jobs: runner,
    auth,
    download: downloadFrom(engine.storage),
    notifications,
    scheduler,
    corsOrigin: config.server.dashboardOrigin,
    healthMaxAgeHours: config.server.healthMaxAgeHours,
    localDir: config.backupDir,
    // The socket's peer: behind a reverse proxy that is the proxy, so all clients share its allowance (see README).
    clientAddress: (c) => getConnInfo(c).remote.address,
  };
  return { bus, notifications, runner, scheduler, api, generatedSecret: !config.server.jwksUrl && !config.server.jwtSecret };
}
