// Download routes: a short-lived link the dashboard navigates to (presigned on S3, one-time locally), and the one-time link's stream.
import { Readable } from "node:stream";
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { readManifest } from "../../core/catalog.ts";
import { archiveKey } from "../../core/ids.ts";
import type { StoredManifest } from "../../core/manifest.ts";
import { exportArchive } from "../../core/v2/export.ts";
import { LINK_SECONDS, ONE_TIME_PATH, OneTimeLinks, TOKEN_PATTERN, planDownload } from "../download-links.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { SECURITY, errors, json } from "../openapi.ts";
import { BackupIdParams } from "../schemas.ts";

const tags = ["backups"];

const DownloadLink = z
  .object({
    url: z.string().openapi({ description: "Absolute (presigned S3) or relative to the API's base (one-time local link)" }),
    expiresAt: z.string(),
    oneTime: z.boolean().openapi({ description: "True for the local link, which works for one request; a presigned URL works until it expires" }),
  })
  .openapi("DownloadLink");
const ExportAccepted = z.object({ jobId: z.string(), backupId: z.string() }).openapi("ExportAccepted");

const linkRoute = createRoute({
  method: "post", path: "/api/backup/{id}/download-link", tags, security: SECURITY,
  summary: "A short-lived URL to download the archive with a plain GET (navigate to it); 202 while a v2 backup's export is written on S3",
  request: { params: BackupIdParams },
  responses: {
    200: json(DownloadLink, "The URL, valid for a minute"),
    202: json(ExportAccepted, "The export job that writes the archive first (S3, v2 backups); ask again when it has succeeded"),
    ...errors(400, 404),
  },
});

const oneTimeRoute = createRoute({
  method: "get", path: `${ONE_TIME_PATH}{token}`, tags,
  summary: "The archive behind a one-time link (local store); the token is the credential, so no Authorization header",
  request: { params: z.object({ token: z.string().regex(TOKEN_PATTERN, { error: "must be a download token from POST /api/backup/{id}/download-link" }).openapi({ param: { name: "token", in: "path" } }) }) },
  responses: {
    200: { description: "The archive, streamed", content: { "application/gzip": { schema: { type: "string", format: "binary" } } } },
    ...errors(400, 404),
  },
});

/** Streams a backup's standard .tar.gz: the stored v1 archive, or a v2 backup exported as it streams (size unknown up front). */
export async function streamArchive(c: Context, deps: ApiDeps, m: StoredManifest): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/gzip", "Content-Disposition": `attachment; filename="${m.id}.tar.gz"`, "Cache-Control": "no-store" };
  if (m.formatVersion === 2) return c.body(Readable.toWeb(exportArchive(deps.engine.storage, m)) as unknown as ReadableStream<Uint8Array>, 200, headers);
  const answer = await deps.download(m.id, archiveKey(m.id));
  if ("redirect" in answer) return c.redirect(answer.redirect, 302);
  // Streamed through: archives can be far larger than memory.
  return c.body(Readable.toWeb(answer.stream) as unknown as ReadableStream<Uint8Array>, 200, { ...headers, "Content-Length": String(answer.size) });
}

export function registerDownloadRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const links = new OneTimeLinks(() => deps.engine.now());

  app.openapi(linkRoute, async (c) => {
    const { id } = c.req.valid("param");
    const plan = await planDownload(deps, id, c.get("admin").actor, LINK_SECONDS);
    if (plan.kind === "preparing") {
      c.header("Location", `/api/backup/jobs/${plan.job.id}`);
      return c.json({ jobId: plan.job.id, backupId: id }, 202);
    }
    if (plan.kind === "url") return c.json({ url: plan.url, expiresAt: plan.expiresAt.toISOString(), oneTime: false }, 200);
    const { token, expiresAt } = links.issue(id);
    return c.json({ url: `${ONE_TIME_PATH}${token}`, expiresAt: expiresAt.toISOString(), oneTime: true }, 200);
  });

  app.openapi(oneTimeRoute, async (c) => {
    const id = links.take(c.req.valid("param").token);
    // Read again: the backup may have been deleted since the link was issued.
    return streamArchive(c, deps, await readManifest(deps.engine.storage, id)) as never;
  });
}
