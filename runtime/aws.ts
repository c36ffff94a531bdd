// The AWS runtime's composition root: what each Lambda function runs on (config, engine, bus, notifications; for the API its jobs and deps), built once per container from the environment infra/ sets.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { ApiDeps, AuthSettings } from "../api/deps.ts";
import { downloadFrom } from "../api/download.ts";
import { loadConfig, type Config } from "../core/config.ts";
import { jsonLogger, makeEngine, type Engine } from "../core/engine.ts";
import { LAMBDA_LOST_AFTER_MS } from "../core/jobs/deadline.ts";
import { EventJobService } from "../core/jobs/event-service.ts";
import type { EventBus } from "../core/events/bus.ts";
import { EventBridgeBus } from "../core/events/eventbridge-bus.ts";
import { localMailer } from "../core/notify/mailer.ts";
import { Notifications } from "../core/notify/notifications.ts";
import { SesMailer } from "../core/notify/ses-mailer.ts";
import { saveEmailStatus } from "../core/notify/email-status.ts";
import { storageFromConfig } from "../core/storage/from-config.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { ConfigError } from "../core/errors.ts";
import { tuneHeap } from "../core/heap-tuning.ts";

export interface FunctionDeps {
  config: Config;
  engine: Engine;
  /** null inside the VPC, where EventBridge is out of reach: results travel as Lambda destination records. */
  bus: EventBus | null;
  notifications: Notifications;
}

export async function buildDeps(env: NodeJS.ProcessEnv = process.env): Promise<FunctionDeps> {
  tuneHeap(); // the functions' memory is billed and capped (core/heap-tuning.ts)
  // Lambda's only writable folder is /tmp: relative paths (BACKUP_DIR) resolve there.
  const config = loadConfig(env, "/tmp");
  const storage = await storageFromConfig(config);
  const workRoot = path.join(config.backupDir, "temp");
  await mkdir(workRoot, { recursive: true });
  const engine = makeEngine({ config, storage, workRoot, log: jsonLogger(process.stdout) });
  const { region, endpoint } = config.storage;
  const bus = config.eventBus ? new EventBridgeBus({ busName: config.eventBus, region, endpoint }) : null;
  const mailer = config.email.transport === "ses" ? new SesMailer({ region, endpoint, configurationSet: env.BACKUP_SES_CONFIGURATION_SET }) : localMailer(config);
  const notifications = new Notifications(config.email, mailer, engine.log, (r) => saveEmailStatus(storage, r));
  return { config, engine, bus, notifications };
}

/** Builds once per container, on first use; importing a handler builds nothing. */
export function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= make().catch((err) => {
      value = undefined; // a failed start is retried by the next invocation
      throw err;
    });
    return value;
  };
}

/** The API's deps: jobs go out as events, downloads are presigned URLs, the JWT secret comes from the SST secret. */
export async function buildApiDeps(env: NodeJS.ProcessEnv = process.env): Promise<ApiDeps> {
  const { config, engine, bus, notifications } = await buildDeps(env);
  if (!bus) throw new ConfigError("start API: BACKUP_EVENT_BUS must name the event bus that carries job requests to the worker");
  const storage = engine.storage;
  if (!(storage instanceof S3Storage)) throw new ConfigError("start API: BACKUP_STORAGE must be s3 on AWS");
  const auth: AuthSettings = config.server.jwksUrl ? { jwksUrl: config.server.jwksUrl } : { jwtSecret: config.server.jwtSecret ?? (await linkedJwtSecret()) };
  if (!auth.jwksUrl && !auth.jwtSecret) {
    throw new ConfigError(
      "start API: no JWT secret: the JwtSecret link is missing or empty and neither JWT_SECRET nor JWKS_URL is set; " +
        "set the CRM's secret with `npx sst secret set JwtSecret <secret> --stage <stage>` and deploy again (or set JWKS_URL for RS256 tokens)",
    );
  }
  return {
    engine,
    // A job silent past the worker's timeout plus a margin has no worker left: readers fail it as worker_lost.
    jobs: new EventJobService(engine, bus, { lostAfterMs: LAMBDA_LOST_AFTER_MS }),
    auth,
    download: downloadFrom(storage),
    notifications,
    scheduler: null,
    corsOrigin: config.server.dashboardOrigin,
    healthMaxAgeHours: config.server.healthMaxAgeHours,
  };
}

/**
 * The API's one SST link (infra/api.ts): SST puts it in the bundle encrypted, and `Resource` decrypts it at first use.
 * Asked with `in`, because reading a link that is not there throws. Without a link (JWKS_URL set) it is undefined.
 */
async function linkedJwtSecret(): Promise<string | undefined> {
  const { Resource } = (await import("sst")) as unknown as { Resource: Record<string, { value?: unknown } | undefined> };
  const value = "JwtSecret" in Resource ? Resource.JwtSecret?.value : undefined;
  return typeof value === "string" && value !== "" ? value : undefined;
}
