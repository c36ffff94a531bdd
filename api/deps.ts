// What the HTTP app is built from (ApiDeps) and what its handlers find in the request context (AppEnv).
import type { Readable } from "node:stream";
import type { Context } from "hono";
import type { Engine } from "../core/engine.ts";
import type { JobService } from "../core/jobs/records.ts";
import type { AuthFailureLimiter } from "./auth-rate-limit.ts";

export interface AuthSettings {
  /** HS256: the CRM's JWT secret. Exactly one of jwtSecret and jwksUrl is set. */
  jwtSecret?: string;
  /** RS256: where the CRM publishes its public keys. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export type DownloadAnswer = { redirect: string } | { stream: Readable; size: number };

export interface NotificationsPort {
  sendTest(actor: string): Promise<{ sent: boolean; transport: string; detail: string }>;
  lastResult(): { at: string; ok: boolean; detail: string } | null;
  enabled: boolean;
  /** How mail leaves (smtp, outbox, ses): the dashboard's Email card names it, so it agrees with what a test email does. */
  transport: string;
}

export interface SchedulerPort {
  initialized: boolean;
  /** Schedule name -> next run (ISO time), null when it never fires again. */
  nextRuns(): Record<string, string | null>;
}

export interface ApiDeps {
  engine: Engine;
  jobs: JobService;
  auth: AuthSettings;
  /** How GET /:id/download answers: a presigned URL (S3) or a stream of the stored archive (local). */
  download(id: string, key: string): Promise<DownloadAnswer>;
  notifications: NotificationsPort;
  /** null where no scheduler runs in this process (on AWS EventBridge schedules instead). */
  scheduler: SchedulerPort | null;
  /** The dashboard's origin; CORS allows only it (same-origin needs none). */
  corsOrigin?: string;
  /** Dead-man's switch: status is unhealthy when the newest backup is older than this. Default 26. */
  healthMaxAgeHours?: number;
  /** The local store's folder, for free disk space in status. */
  localDir?: string;
  /**
   * The client's network address, which failed sign-ins are counted by: the socket's peer in `serve`, API Gateway's
   * sourceIp on Lambda. Never a header the client sets. Unset (or undefined), requests share one allowance.
   */
  clientAddress?: (c: Context) => string | undefined;
  /** Failed sign-ins allowed per address; default 10 a minute. Tests pass one with their own clock. */
  authLimiter?: AuthFailureLimiter;
}

/** The admin a request was made by, from the verified token. */
export interface Admin {
  /** email, else sub: what audit records name as the actor. */
  actor: string;
  sub?: string;
  email?: string;
}

export interface AppEnv {
  Variables: { admin: Admin };
}
