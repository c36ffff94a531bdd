// Configuration: the original system's environment variables plus CRM paths, loaded from env and .env, validated with zod.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { parseCron } from "./cron.ts";
import { jwksUrlProblem } from "./jwks-url.ts";

const count = (name: string, fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
        ctx.addIssue({ code: "custom", message: `${name} must be a whole number, e.g. ${fallback}; got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const bool = (name: string, fallback: boolean) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const s = v.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(s)) return true;
      if (["false", "0", "no", "off", ""].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: `${name} must be true or false; got "${v}"` });
      return z.NEVER;
    });

const schedule = (name: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        parseCron(v);
        return v.trim();
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `${name} must be a 5-field cron expression like "${fallback}": ${(err as Error).message}` });
        return z.NEVER;
      }
    });

const timeZone = z
  .string()
  .default("UTC")
  .transform((v, ctx) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: v });
      return v;
    } catch {
      ctx.addIssue({ code: "custom", message: `TZ must be an IANA time zone such as "UTC" or "Europe/Berlin"; got "${v}"` });
      return z.NEVER;
    }
  });

const email = (name: string) =>
  z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || v.split(",").every((a) => /^[^@\s]+@[^@\s]+$/.test(a.trim().replace(/^.*<(.+)>$/, "$1"))), {
      message: `${name} must be an email address (or a comma-separated list), e.g. admin@example.com`,
    });

const port = z
  .string()
  .default("587")
  .transform((v, ctx) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > 65535) {
      ctx.addIssue({ code: "custom", message: `SMTP_PORT must be a port number between 1 and 65535; got "${v}"` });
      return z.NEVER;
    }
    return n;
  });

const EnvSchema = z.object({
  BACKUP_DIR: z.string().min(1).default("./backups"),
  BACKUP_RETENTION_DAILY: count("BACKUP_RETENTION_DAILY", 30),
  BACKUP_RETENTION_WEEKLY: count("BACKUP_RETENTION_WEEKLY", 12),
  BACKUP_RETENTION_MONTHLY: count("BACKUP_RETENTION_MONTHLY", 12),
  BACKUP_DAILY_SCHEDULE: schedule("BACKUP_DAILY_SCHEDULE", "0 2 * * *"),
  BACKUP_WEEKLY_SCHEDULE: schedule("BACKUP_WEEKLY_SCHEDULE", "0 1 * * 0"),
  BACKUP_MONTHLY_SCHEDULE: schedule("BACKUP_MONTHLY_SCHEDULE", "0 0 1 * *"),
  BACKUP_CLEANUP_SCHEDULE: schedule("BACKUP_CLEANUP_SCHEDULE", "0 3 * * *"),
  BACKUP_EMAIL_ENABLED: bool("BACKUP_EMAIL_ENABLED", false),
  SMTP_HOST: z.string().optional(),
  SMTP_PORT: port,
  SMTP_SECURE: bool("SMTP_SECURE", false),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  BACKUP_EMAIL_FROM: email("BACKUP_EMAIL_FROM"),
  BACKUP_EMAIL_TO: email("BACKUP_EMAIL_TO"),
  TZ: timeZone,
  BACKUP_DB_BUSY_TIMEOUT_MS: count("BACKUP_DB_BUSY_TIMEOUT_MS", 30_000),
  PORT: z
    .string()
    .default("3000")
    .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535, { message: "PORT must be a port number between 1 and 65535" })
    .transform(Number),
  JWT_SECRET: z.string().min(32, { message: "JWT_SECRET must be at least 32 characters (the CRM's token signing secret)" }).optional(),
  JWKS_URL: z
    .string()
    .superRefine((v, ctx) => {
      const problem = jwksUrlProblem(v);
      if (problem) ctx.addIssue({ code: "custom", message: `JWKS_URL must be an https:// URL of the CRM's JSON Web Key Set: ${problem}` });
    })
    .optional(),
  DASHBOARD_ORIGIN: z.url({ protocol: /^https?$/, message: "DASHBOARD_ORIGIN must be an origin such as https://backup.example.com" }).optional(),
  BACKUP_HEALTH_MAX_AGE_HOURS: count("BACKUP_HEALTH_MAX_AGE_HOURS", 26),
  BACKUP_STORAGE: z.enum(["fs", "s3"], { message: 'BACKUP_STORAGE must be "fs" (BACKUP_DIR on this machine) or "s3" (BACKUP_BUCKET)' }).default("fs"),
  BACKUP_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "BACKUP_BUCKET must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)" }).optional(),
  BACKUP_S3_PREFIX: z.string().default("backups/"),
  BACKUP_KMS_KEY_ID: z.string().min(1).optional(),
  AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: "AWS_REGION must be a region name such as eu-central-1" }).default("us-east-1"),
  AWS_ENDPOINT_URL: z.url({ protocol: /^https?$/, message: "AWS_ENDPOINT_URL must be a URL such as http://127.0.0.1:4566 (LocalStack) or your S3-compatible endpoint" }).optional(),
  BACKUP_EVENT_BUS: z.string().min(1).optional(),
  BACKUP_EMAIL_TRANSPORT: z.enum(["outbox", "smtp", "ses"], { message: 'BACKUP_EMAIL_TRANSPORT must be "outbox", "smtp" or "ses"' }).optional(),
  BACKUP_FORMAT: z.enum(["v1", "v2"], { message: 'BACKUP_FORMAT must be "v2" (content-addressed blobs, each piece of data stored once; the default) or "v1" (one .tar.gz per backup)' }).default("v2"),
  CRM_ROOT: z.string().min(1).optional(),
  DATABASE_PATH: z.string().min(1).optional(),
  UPLOADS_DIR: z.string().min(1).optional(),
  LOGS_DIR: z.string().min(1).optional(),
});

export interface Config {
  backupDir: string;
  retention: { daily: number; weekly: number; monthly: number };
  schedules: { daily: string; weekly: string; monthly: string; cleanup: string };
  timeZone: string;
  email: {
    enabled: boolean;
    /** outbox (.eml files, the default), smtp (when SMTP_HOST is set), or ses. */
    transport: "outbox" | "smtp" | "ses";
    from?: string;
    to?: string;
    smtp: { host?: string; port: number; secure: boolean; user?: string; password?: string };
  };
  storage: { kind: "fs" | "s3"; bucket?: string; prefix: string; kmsKeyId?: string; region: string; endpoint?: string };
  /** EventBridge bus name; unset locally, where events stay in-process. */
  eventBus?: string;
  server: { port: number; jwtSecret?: string; jwksUrl?: string; dashboardOrigin?: string; healthMaxAgeHours: number };
  /** How new backups are stored: v1 one .tar.gz each; v2 content-addressed blobs in packs (experimental, core/v2/FORMAT.md). */
  backupFormat: "v1" | "v2";
  /** How long a database snapshot or restore waits for the CRM's own writes to finish. */
  dbBusyTimeoutMs: number;
  /** null when CRM_ROOT is unset: the CLI then uses a demo CRM it creates. */
  crmRoot: string | null;
  /** `root` is CRM_ROOT, or the working folder without it; config entries are named relative to it. */
  paths: { root: string; database: string; uploads: string; logs: string; configFiles: string[] };
}

/** The CRM files the config component holds, relative to CRM_ROOT. `.env` and other `.env.*` files never are. */
export const CONFIG_FILES = ["package.json", "package-lock.json", "prisma/schema.prisma", ".env.example"];

/** Reads a .env file (if present) without overriding variables already set in the environment. */
export function readEnvFile(file: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!existsSync(file)) return env;
  let parsed: Record<string, string>;
  try {
    parsed = parseEnv(readFileSync(file, "utf8")) as Record<string, string>;
  } catch (err) {
    throw new ConfigError(`read ${file}: ${(err as Error).message}; fix the file's syntax (KEY=value per line)`);
  }
  return { ...parsed, ...env };
}

/** Validates the environment; throws ConfigError naming every bad variable and what it expects. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  // Empty strings mean "unset" so that `FOO=` in a .env file falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const name = String(i.path[0] ?? "environment");
      return i.message.startsWith(name) ? `- ${i.message}` : `- ${name}: ${i.message}`;
    });
    throw new ConfigError(`load configuration: invalid environment\n${lines.join("\n")}`);
  }
  const e = result.data;
  const crmRoot = e.CRM_ROOT ? path.resolve(cwd, e.CRM_ROOT) : null;
  const base = crmRoot ?? path.resolve(cwd);
  const at = (override: string | undefined, rel: string) => (override ? path.resolve(cwd, override) : path.join(base, rel));
  if (e.BACKUP_STORAGE === "s3" && !e.BACKUP_BUCKET) {
    throw new ConfigError("load configuration: invalid environment\n- BACKUP_BUCKET: must be set when BACKUP_STORAGE=s3, e.g. my-crm-backups");
  }
  if (e.BACKUP_EMAIL_TRANSPORT === "smtp" && !e.SMTP_HOST) {
    throw new ConfigError("load configuration: invalid environment\n- SMTP_HOST: must be set when BACKUP_EMAIL_TRANSPORT=smtp");
  }
  if (e.BACKUP_EMAIL_ENABLED && !e.BACKUP_EMAIL_TO) {
    throw new ConfigError("load configuration: invalid environment\n- BACKUP_EMAIL_TO: must be set when BACKUP_EMAIL_ENABLED=true, e.g. admin@example.com");
  }
  return {
    backupDir: path.resolve(cwd, e.BACKUP_DIR),
    retention: { daily: e.BACKUP_RETENTION_DAILY, weekly: e.BACKUP_RETENTION_WEEKLY, monthly: e.BACKUP_RETENTION_MONTHLY },
    schedules: {
      daily: e.BACKUP_DAILY_SCHEDULE,
      weekly: e.BACKUP_WEEKLY_SCHEDULE,
      monthly: e.BACKUP_MONTHLY_SCHEDULE,
      cleanup: e.BACKUP_CLEANUP_SCHEDULE,
    },
    timeZone: e.TZ,
    email: {
      enabled: e.BACKUP_EMAIL_ENABLED,
      transport: e.BACKUP_EMAIL_TRANSPORT ?? (e.SMTP_HOST ? "smtp" : "outbox"),
      from: e.BACKUP_EMAIL_FROM || undefined,
      to: e.BACKUP_EMAIL_TO || undefined,
      smtp: { host: e.SMTP_HOST, port: e.SMTP_PORT, secure: e.SMTP_SECURE, user: e.SMTP_USER, password: e.SMTP_PASSWORD },
    },
    dbBusyTimeoutMs: e.BACKUP_DB_BUSY_TIMEOUT_MS,
    backupFormat: e.BACKUP_FORMAT,
    storage: { kind: e.BACKUP_STORAGE, bucket: e.BACKUP_BUCKET, prefix: e.BACKUP_S3_PREFIX, kmsKeyId: e.BACKUP_KMS_KEY_ID, region: e.AWS_REGION, endpoint: e.AWS_ENDPOINT_URL },
    eventBus: e.BACKUP_EVENT_BUS,
    server: {
      port: e.PORT,
      jwtSecret: e.JWT_SECRET,
      jwksUrl: e.JWKS_URL,
      dashboardOrigin: e.DASHBOARD_ORIGIN ? new URL(e.DASHBOARD_ORIGIN).origin : undefined,
      healthMaxAgeHours: e.BACKUP_HEALTH_MAX_AGE_HOURS,
    },
    crmRoot,
    paths: {
      root: base,
      database: at(e.DATABASE_PATH, "prisma/dev.db"),
      uploads: at(e.UPLOADS_DIR, "uploads"),
      logs: at(e.LOGS_DIR, "logs"),
      configFiles: CONFIG_FILES.map((f) => path.join(base, f)),
    },
  };
}
