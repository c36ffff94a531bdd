// Routes about the service itself: liveness, status with the dead-man's switch, the audit log, and a test email.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { appendAudit, readAudit } from "../../core/catalog.ts";
import { errorMessage } from "../../core/errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { errorBody } from "../errors.ts";
import { SECURITY, errors, json } from "../openapi.ts";
import { AuditList, AuditQuery, EmailResult, ErrorResponse, Health, StatusSchema } from "../schemas.ts";
import { buildStatus } from "../status-report.ts";

const tags = ["system"];

const healthRoute = createRoute({
  method: "get", path: "/api/health", tags,
  summary: "Liveness only (no auth); backup health is in /api/backup/status",
  responses: { 200: json(Health, "The process answers") },
});

const statusRoute = createRoute({
  method: "get", path: "/api/backup/status", tags, security: SECURITY,
  summary: "Counts, last backup and verify, storage, schedules, email, running job, and health",
  responses: { 200: json(StatusSchema, "Status"), ...errors() },
});

const auditRoute = createRoute({
  method: "get", path: "/api/backup/audit", tags, security: SECURITY,
  summary: "Audit records, newest first",
  request: { query: AuditQuery },
  responses: { 200: json(AuditList, "Audit records"), ...errors(400) },
});

const testEmailRoute = createRoute({
  method: "post", path: "/api/backup/test-email", tags, security: SECURITY,
  summary: "Send a test notification email",
  responses: { 200: json(EmailResult, "Sent"), 502: json(ErrorResponse.extend({ result: EmailResult.optional() }), "Not sent"), ...errors() },
});

export function registerSystemRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  app.openapi(healthRoute, (c) => c.json({ ok: true as const }, 200));

  app.openapi(statusRoute, async (c) => c.json(await buildStatus(deps), 200));

  app.openapi(auditRoute, async (c) => c.json({ items: await readAudit(deps.engine.storage, c.req.valid("query").limit) }, 200));

  app.openapi(testEmailRoute, async (c) => {
    const actor = c.get("admin").actor;
    // The audit write is best effort: the admin asked about email, and its answer must not depend on the store.
    const audit = (error?: string, detail?: Record<string, unknown>) =>
      appendAudit(deps.engine.storage, { actor, action: "test-email", result: error ? "failed" : "succeeded", ...(error ? { error } : {}), ...(detail ? { detail } : {}) }, deps.engine.now()).catch(() => undefined);
    try {
      const result = await deps.notifications.sendTest(actor);
      await audit(result.sent ? undefined : result.detail, { transport: result.transport, detail: result.detail });
      if (result.sent) return c.json(result, 200);
      return c.json({ ...errorBody("email_not_sent", `send test email: ${result.detail}`), result }, 502);
    } catch (err) {
      // A mail server that refuses us is an upstream failure the admin can fix, not a bug in this service.
      deps.engine.log.error("send test email failed", { actor, error: errorMessage(err) });
      await audit(errorMessage(err));
      return c.json(errorBody("email_not_sent", `send test email: ${errorMessage(err)}`), 502);
    }
  });
}
