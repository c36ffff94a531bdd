// Routes over stored backups: list, create, read one manifest, download the archive, delete.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { readManifest } from "../../core/catalog.ts";
import { scanCatalog } from "../../core/catalog-scan.ts";
import { deleteBackup } from "../../core/cleanup.ts";
import { backupSha256, backupSizeBytes } from "../../core/manifest.ts";
import { DOWNLOAD_URL_SECONDS } from "../download.ts";
import { planDownload } from "../download-links.ts";
import { streamArchive } from "./downloads.ts";
import type { BackupSummary } from "../../core/catalog.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { SECURITY, errors, json } from "../openapi.ts";
import {
  BackupIdParams, BackupList, CreateBackupBody, DeleteResult, JobAccepted, ListQuery, Manifest,
} from "../schemas.ts";

const tags = ["backups"];

const listRoute = createRoute({
  method: "get", path: "/api/backup", tags, security: SECURITY,
  summary: "List verified backups, newest first, and what the store holds that is not one (damaged manifests, orphan archives, interrupted runs)",
  request: { query: ListQuery },
  responses: { 200: json(BackupList, "One page of backups"), ...errors(400) },
});

const createBackupRoute = createRoute({
  method: "post", path: "/api/backup/create", tags, security: SECURITY,
  summary: "Start a backup; poll the job in Location",
  request: { body: { required: false, content: { "application/json": { schema: CreateBackupBody } } } },
  responses: { 202: json(JobAccepted, "Backup job started; Location is the job"), ...errors(400, 409, 413) },
});

const getRoute = createRoute({
  method: "get", path: "/api/backup/{id}", tags, security: SECURITY,
  summary: "The stored manifest of one backup",
  request: { params: BackupIdParams },
  responses: { 200: json(Manifest, "The manifest, with the archive's size and SHA-256"), ...errors(400, 404) },
});

const downloadRoute = createRoute({
  method: "get", path: "/api/backup/{id}/download", tags, security: SECURITY,
  summary: "Download the archive: a redirect to a presigned URL, or the archive's bytes",
  request: { params: BackupIdParams },
  responses: {
    200: { description: "The archive, streamed", content: { "application/gzip": { schema: { type: "string", format: "binary" } } } },
    202: json(JobAccepted, "S3, v2 backup: its archive is being exported (the job in Location); ask again once it has succeeded"),
    302: { description: "Redirect to a short-lived download URL" },
    ...errors(400, 404),
  },
});

const deleteRoute = createRoute({
  method: "delete", path: "/api/backup/{id}", tags, security: SECURITY,
  summary: "Delete a backup, a damaged manifest with its archive, or an orphan archive (audited)",
  request: { params: BackupIdParams },
  responses: { 200: json(DeleteResult, "Deleted"), ...errors(400, 404, 409) },
});

export function registerBackupRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const { engine } = deps;

  app.openapi(listRoute, async (c) => {
    const { type, page, pageSize } = c.req.valid("query");
    const { backups: all, damaged, orphans, incomplete } = await scanCatalog(engine.storage, type, { cachedListing: true });
    const items = all.slice((page - 1) * pageSize, page * pageSize).map(summary);
    // Not paged: they are few, and the admin must see them whichever page is open.
    return c.json({ total: all.length, page, pageSize, items, damaged, orphans, incomplete }, 200);
  });

  app.openapi(createBackupRoute, async (c) => {
    // With no JSON body the validator hands over {} unparsed, so defaults are applied here.
    const body = CreateBackupBody.parse(c.req.valid("json") ?? {});
    const job = await deps.jobs.submitBackup({ ...body, actor: c.get("admin").actor });
    c.header("Location", `/api/backup/jobs/${job.id}`);
    return c.json({ jobId: job.id, backupId: job.backupId ?? "" }, 202);
  });

  app.openapi(getRoute, async (c) => c.json(await readManifest(engine.storage, c.req.valid("param").id), 200));

  app.openapi(downloadRoute, async (c) => {
    const { id } = c.req.valid("param");
    // The original system's contract: the archive's bytes locally; on S3 a redirect to a presigned URL, or 202 with the
    // export job while a v2 backup's archive is written (api/download-links.ts).
    const plan = await planDownload(deps, id, c.get("admin").actor, DOWNLOAD_URL_SECONDS);
    if (plan.kind === "url") return c.redirect(plan.url, 302);
    if (plan.kind === "preparing") {
      c.header("Location", `/api/backup/jobs/${plan.job.id}`);
      c.header("Retry-After", "5");
      return c.json({ jobId: plan.job.id, backupId: id }, 202);
    }
    return streamArchive(c, deps, plan.manifest) as never;
  });

  app.openapi(deleteRoute, async (c) => {
    const result = await deleteBackup(engine, c.req.valid("param").id, c.get("admin").actor);
    return c.json(result, 200);
  });
}

function summary(m: BackupSummary) {
  return {
    id: m.id,
    type: m.type,
    description: m.description,
    createdAt: m.createdAt,
    sizeBytes: backupSizeBytes(m),
    sha256: backupSha256(m) ?? "",
    components: Object.entries(m.components).filter(([, c]) => c.status === "included").map(([name]) => name),
  };
}
