// The admin HTTP app: security headers, CORS, body limit, failed sign-in limit, auth, routes in the order their paths need, error mapping and the OpenAPI document.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Hono } from "hono";
import { cors } from "hono/cors";
import { adminAuth } from "./auth.ts";
import { AuthFailureLimiter, authFailureLimit } from "./auth-rate-limit.ts";
import { apiBodyLimit, RESTORE_PATH, restoreBodyLimit } from "./body-limit.ts";
import type { ApiDeps, AppEnv } from "./deps.ts";
import { errorBody, errorResponse, validationHook } from "./errors.ts";
import { registerOpenApi } from "./openapi.ts";
import { registerBackupDetailRoutes } from "./routes/backup-details.ts";
import { registerBackupRoutes } from "./routes/backups.ts";
import { registerDownloadRoutes } from "./routes/downloads.ts";
import { registerJobRoutes } from "./routes/jobs.ts";
import { registerOperationRoutes } from "./routes/operations.ts";
import { registerSystemRoutes } from "./routes/system.ts";
import { apiSecurityHeaders } from "./security-headers.ts";

export type { ApiDeps } from "./deps.ts";

/** Throws ConfigError when auth is not configured, so a deployment without it never starts. */
export function createApp(deps: ApiDeps): Hono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const log = deps.engine.log;

  // First, so that every answer below it gets the headers: preflights, 401s, 413s, errors from onError.
  app.use("/api/*", apiSecurityHeaders());
  if (deps.corsOrigin) {
    // Before auth: a browser's preflight carries no Authorization header.
    app.use(
      "/api/*",
      cors({
        origin: deps.corsOrigin,
        allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
        allowHeaders: ["Authorization", "Content-Type"],
        // Retry-After is not CORS-safelisted: without this a dashboard on another origin could not read a 429's wait.
        exposeHeaders: ["Location", "Content-Disposition", "WWW-Authenticate", "Retry-After"],
        maxAge: 600,
      }),
    );
  }
  // Before auth, so an oversized body is refused without being read; auth itself never reads the body.
  app.use("/api/*", apiBodyLimit());
  // Hono's "/api/backup/*" also matches "/api/backup" itself, so this one line covers the list route too.
  const limiter = deps.authLimiter ?? new AuthFailureLimiter();
  app.use("/api/backup/*", authFailureLimit(limiter, deps.clientAddress ?? (() => undefined), log), adminAuth(deps.auth, log));
  // A restore's include list may be long (up to 1000 paths): its larger limit, read only for a signed-in admin.
  app.use(RESTORE_PATH, restoreBodyLimit());

  // Fixed paths before /api/backup/{id}, which would otherwise claim "status", "audit" and "jobs".
  registerSystemRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerOperationRoutes(app, deps);
  registerBackupDetailRoutes(app, deps);
  registerDownloadRoutes(app, deps);
  registerBackupRoutes(app, deps);
  registerOpenApi(app);

  // A route rather than only notFound: mounted in `serve`, an unknown /api path would otherwise fall through to the dashboard's files.
  const noRoute = (c: Context) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}; see /api/openapi.json`), 404);
  app.all("/api/*", noRoute);
  app.notFound(noRoute);
  app.onError((err, c) => errorResponse(err, c, log));
  return app;
}
