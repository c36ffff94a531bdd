// Routes for looking inside backups: one backup's details without its file lists, its files a page at a time, and the run history.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { readManifest } from "../../core/catalog.ts";
import { scanCatalog } from "../../core/catalog-scan.ts";
import { backupDetails, browseFiles } from "../../core/manifest-browse.ts";
import { runHistory } from "../../core/run-history.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { BackupDetailsSchema, FilePageSchema, FilesQuery, RunList, RunsQuery } from "../detail-schemas.ts";
import { SECURITY, errors, json } from "../openapi.ts";
import { BackupIdParams } from "../schemas.ts";

const tags = ["backups"];

const runsRoute = createRoute({
  method: "get", path: "/api/backup/runs", tags, security: SECURITY,
  summary: "Backup, verify, restore and cleanup runs from the audit trail, newest first, failures included, with duration and size",
  request: { query: RunsQuery },
  responses: { 200: json(RunList, "Runs"), ...errors(400) },
});

const detailsRoute = createRoute({
  method: "get", path: "/api/backup/{id}/details", tags, security: SECURITY,
  summary: "One backup's facts without its file lists: components, counts, sizes, hashes, database facts, stored stats (v2)",
  request: { params: BackupIdParams },
  responses: { 200: json(BackupDetailsSchema, "The details"), ...errors(400, 404) },
});

const filesRoute = createRoute({
  method: "get", path: "/api/backup/{id}/files", tags, security: SECURITY,
  summary: "One page of a backup's files, sorted by path, filtered by text, folder or component",
  request: { params: BackupIdParams, query: FilesQuery },
  responses: { 200: json(FilePageSchema, "A page of files"), ...errors(400, 404) },
});

/** Register before the backup routes: /api/backup/{id} would otherwise claim "runs". */
export function registerBackupDetailRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const { storage } = deps.engine;

  app.openapi(runsRoute, async (c) => {
    const { backups } = await scanCatalog(storage, undefined, { cachedListing: true });
    return c.json({ items: await runHistory(storage, backups, c.req.valid("query").limit) }, 200);
  });

  app.openapi(detailsRoute, async (c) => c.json(backupDetails(await readManifest(storage, c.req.valid("param").id)), 200));

  app.openapi(filesRoute, async (c) => c.json(browseFiles(await readManifest(storage, c.req.valid("param").id), c.req.valid("query")), 200));
}
