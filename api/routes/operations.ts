// Routes that change live data or the store as a whole: restore, verify, cleanup.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { readManifest } from "../../core/catalog.ts";
import { runCleanup } from "../../core/cleanup.ts";
import { checkComponentsIncluded } from "../../core/restore.ts";
import { includeErrors, includeRejection } from "../restore-include.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { SECURITY, errors, json } from "../openapi.ts";
import { BackupIdParams, CleanupAccepted, CleanupBody, CleanupOutcome, JobAccepted, RestoreBody } from "../schemas.ts";

const tags = ["operations"];

const restoreRoute = createRoute({
  method: "post", path: "/api/backup/restore", tags, security: SECURITY,
  summary: "Start a restore of chosen components; a pre-restore backup is made first",
  request: { body: { required: true, content: { "application/json": { schema: RestoreBody } } } },
  responses: { 202: json(JobAccepted, "Restore job started; Location is the job"), ...errors(400, 404, 409, 413) },
});

const verifyRoute = createRoute({
  method: "post", path: "/api/backup/{id}/verify", tags, security: SECURITY,
  summary: "Start re-reading a backup and checking every hash and the database's integrity",
  request: { params: BackupIdParams },
  responses: { 202: json(JobAccepted, "Verify job started; Location is the job"), ...errors(400, 404, 409) },
});

const cleanupRoute = createRoute({
  method: "post", path: "/api/backup/cleanup", tags, security: SECURITY,
  summary: "Start applying the retention policy (202 with the job), or only report it with dryRun (200)",
  request: { body: { required: false, content: { "application/json": { schema: CleanupBody } } } },
  responses: {
    200: json(CleanupOutcome, "dryRun: what would be kept and removed"),
    202: json(CleanupAccepted, "Cleanup job started; Location is the job, whose result is the CleanupOutcome"),
    ...errors(400, 409, 413),
  },
});

export function registerOperationRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const { engine } = deps;

  app.openapi(restoreRoute, async (c) => {
    const body = c.req.valid("json");
    // Checked here so an unknown id or an absent component is a 4xx now rather than a failed job later.
    const manifest = await readManifest(engine.storage, body.backupId);
    checkComponentsIncluded(manifest, body.components);
    if (body.include) {
      const rejected = includeRejection(c, includeErrors(manifest, body.components, body.include));
      if (rejected) return rejected as never;
    }
    const job = await deps.jobs.submitRestore({ backupId: body.backupId, components: body.components, confirm: body.confirmToken, actor: c.get("admin").actor, ...(body.include ? { include: body.include } : {}) });
    c.header("Location", `/api/backup/jobs/${job.id}`);
    return c.json({ jobId: job.id, backupId: body.backupId }, 202);
  });

  app.openapi(verifyRoute, async (c) => {
    const { id } = c.req.valid("param");
    await readManifest(engine.storage, id);
    const job = await deps.jobs.submitVerify(id, c.get("admin").actor);
    c.header("Location", `/api/backup/jobs/${job.id}`);
    return c.json({ jobId: job.id, backupId: id }, 202);
  });

  app.openapi(cleanupRoute, async (c) => {
    const { dryRun } = CleanupBody.parse(c.req.valid("json") ?? {});
    // A dry run only reads the catalog, so it answers at once; deleting is long work and runs as a job.
    if (dryRun) return c.json(await runCleanup(engine, { dryRun: true, actor: c.get("admin").actor }), 200);
    const job = await deps.jobs.submitCleanup(c.get("admin").actor);
    c.header("Location", `/api/backup/jobs/${job.id}`);
    return c.json({ jobId: job.id }, 202);
  });
}
