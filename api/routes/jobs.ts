// Route for following a started job: state, progress, result and error.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { SECURITY, errors, json } from "../openapi.ts";
import { JobIdParams, JobSchema } from "../schemas.ts";

const getJobRoute = createRoute({
  method: "get", path: "/api/backup/jobs/{id}", tags: ["jobs"], security: SECURITY,
  summary: "A job's state, progress, result and error",
  request: { params: JobIdParams },
  responses: { 200: json(JobSchema, "The job"), ...errors(400, 404) },
});

export function registerJobRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  app.openapi(getJobRoute, async (c) => c.json(await deps.jobs.get(c.req.valid("param").id), 200));
}
