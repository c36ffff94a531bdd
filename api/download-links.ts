// Where a backup's archive is fetched from with a plain GET (so the dashboard navigates, never buffers): presigned S3 URLs, or one-time links the local API streams.
import { randomBytes } from "node:crypto";
import { readManifest } from "../core/catalog.ts";
import { NotFoundError } from "../core/errors.ts";
import { exportKey, freshExport } from "../core/export-object.ts";
import { archiveKey } from "../core/ids.ts";
import type { Job } from "../core/jobs/records.ts";
import type { StoredManifest } from "../core/manifest.ts";
import type { ApiDeps } from "./deps.ts";
import { presignerOf } from "./download.ts";

/** Seconds a link from POST /api/backup/{id}/download-link stays valid: the dashboard navigates to it at once. */
export const LINK_SECONDS = 60;
/** Where the local API serves its one-time links. */
export const ONE_TIME_PATH = "/api/download/";
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * One-time download links for stores the API reads itself (fs, memory). A navigation carries no Authorization header,
 * so the token in the path is the credential: 256 random bits, handed only to an authenticated admin, valid for
 * LINK_SECONDS and for one request. Kept in this process's memory: `serve` is one process, and a restart simply
 * voids the links (the dashboard asks for a new one on every click).
 */
export class OneTimeLinks {
  private readonly links = new Map<string, { backupId: string; expires: number }>();
  constructor(private readonly now: () => Date, private readonly ttlSeconds = LINK_SECONDS) {}

  issue(backupId: string): { token: string; expiresAt: Date } {
    const now = this.now().getTime();
    // Unused links are dropped once expired, so the map never grows past the links of the last minute.
    for (const [t, l] of this.links) if (l.expires <= now) this.links.delete(t);
    const token = randomBytes(32).toString("base64url");
    const expires = now + this.ttlSeconds * 1000;
    this.links.set(token, { backupId, expires });
    return { token, expiresAt: new Date(expires) };
  }

  /** The backup a link is for; it is spent by this call. NotFoundError for an unknown, used or expired link. */
  take(token: string): string {
    const link = this.links.get(token);
    this.links.delete(token);
    if (!link || link.expires <= this.now().getTime()) {
      throw new NotFoundError("download backup: this download link is unknown, used or expired (links work once, for a minute); start the download again from the dashboard");
    }
    return link.backupId;
  }
}

export type DownloadPlan =
  /** Presigned S3 URL of the v1 archive or of a fresh v2 export. */
  | { kind: "url"; url: string; expiresAt: Date }
  /** The API streams it: the stored v1 archive, or a v2 backup exported as it streams. */
  | { kind: "stream"; manifest: StoredManifest }
  /** A v2 backup on S3 without a fresh export: the export job that writes exports/<id>.tar.gz. */
  | { kind: "preparing"; job: Job };

/**
 * How a listed backup is downloaded. On a presigning store (S3) bytes never pass the API (API Gateway answers at most
 * 10 MB, Lambda 6 MB): a v1 archive is presigned as stored; a v2 backup is exported first by a job on the worker,
 * then its exports/<id>.tar.gz is presigned. One export job per backup at a time: a second click joins it.
 */
export async function planDownload(deps: ApiDeps, id: string, actor: string, seconds: number): Promise<DownloadPlan> {
  // Only listed (verified) backups: a presigner would not notice a missing object itself.
  const manifest = await readManifest(deps.engine.storage, id);
  const presigner = presignerOf(deps.engine.storage);
  if (!presigner) return { kind: "stream", manifest };
  const expiresAt = new Date(deps.engine.now().getTime() + seconds * 1000);
  const filename = `${id}.tar.gz`;
  if (manifest.formatVersion === 1) return { kind: "url", url: await presigner.presignGet(archiveKey(id), seconds, { filename }), expiresAt };
  if (await freshExport(deps.engine.storage, id, deps.engine.now())) {
    return { kind: "url", url: await presigner.presignGet(exportKey(id), seconds, { filename }), expiresAt };
  }
  if (!deps.jobs.submitExport) return { kind: "stream", manifest };
  const running = (await deps.jobs.list(50)).find((j) => j.kind === "export" && j.backupId === id && (j.state === "queued" || j.state === "running"));
  return { kind: "preparing", job: running ?? (await deps.jobs.submitExport(id, actor)) };
}
