// The local runtime's composition root: config, store and engine for every command; for `serve` also the bus, notifications, jobs, scheduler and the API's deps, each built once here.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { ApiDeps, AuthSettings } from "../api/deps.ts";
import { downloadFrom } from "../api/download.ts";
import { loadConfig, readEnvFile, type Config } from "../core/config.ts";
import { checkFolder } from "../core/config-paths.ts";
import { jsonLogger, makeEngine, silentLogger, type Engine } from "../core/engine.ts";
import { InProcessBus } from "../core/events/bus.ts";
import { eventForJob } from "../core/events/job-events.ts";
import { NOTIFIER_PATTERN } from "../core/events/patterns.ts";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { saveEmailStatus } from "../core/notify/email-status.ts";
import { localMailer } from "../core/notify/mailer.ts";
import { Notifications } from "../core/notify/notifications.ts";
import { storageFromConfig } from "../core/storage/from-config.ts";
import { ensureDemoCrm } from "./demo-crm.ts";
import { localJwtSecret } from "./local-auth.ts";
import { Scheduler } from "./scheduler.ts";

export interface Runtime {
  engine: Engine;
  config: Config;
  /** Set when no CRM_ROOT was configured and the demo CRM is used. */
  demoCrm: { root: string; created: boolean } | null;
}

export async function buildRuntime(opts: { env?: NodeJS.ProcessEnv; cwd?: string; verbose?: boolean } = {}): Promise<Runtime> {
  const cwd = opts.cwd ?? process.cwd();
  const env = readEnvFile(path.join(cwd, ".env"), opts.env ?? process.env);
  let demoCrm: Runtime["demoCrm"] = null;
  let config = loadConfig(env, cwd);
  if (!config.crmRoot) {
    const root = path.resolve(cwd, "demo-crm");
    demoCrm = { root, created: await ensureDemoCrm(root) };
    config = loadConfig({ ...env, CRM_ROOT: root }, cwd);
  }
  // A wrong folder is a configuration error (exit 2) named here, not a failed backup later.
  if (!demoCrm && config.crmRoot) await checkFolder("CRM_ROOT", config.crmRoot, "write");
  await checkFolder("BACKUP_DIR", config.backupDir, "write", { create: !env.BACKUP_DIR });
  const workRoot = path.join(config.backupDir, "temp");
  await mkdir(workRoot, { recursive: true });
  const storage = await storageFromConfig(config);
  const engine = makeEngine({ config, storage, workRoot, log: opts.verbose ? jsonLogger() : silentLogger });
  return { engine, config, demoCrm };
}

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
