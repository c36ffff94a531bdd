// The Download action: ask the API for a short-lived link and navigate to it, so the browser saves the archive as it arrives; the page never holds its bytes.
import { api, apiBase, ApiError } from "./api.js";

const POLL_MS = 2_000;

/** Waits for the job that writes a v2 backup's export on S3; throws with the job's error if it failed. */
async function waitForExport(jobId) {
  for (;;) {
    const job = await api(`/api/backup/jobs/${jobId}`);
    if (job.state === "succeeded") return;
    if (job.state === "failed") throw new ApiError(500, { error: job.error });
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * POST /api/backup/{id}/download-link answers a URL valid for a minute (presigned S3, or a one-time link to this API), or
 * 202 with the export job to wait for first. The link is followed as a navigation: S3 and the API both answer it as an
 * attachment, so the browser downloads it and the dashboard stays where it is.
 */
export async function download(id, report) {
  for (let round = 0; round < 3; round++) {
    const res = await api(`/api/backup/${id}/download-link`, { method: "POST", raw: true });
    const body = await res.json();
    if (res.status === 202) {
      report?.(`Preparing the archive of ${id} for download…`);
      await waitForExport(body.jobId);
      continue;
    }
    const url = /^https?:\/\//.test(body.url) ? body.url : apiBase() + body.url;
    const a = Object.assign(document.createElement("a"), { href: url, download: `${id}.tar.gz`, rel: "noopener" });
    document.body.append(a);
    a.click();
    a.remove();
    report?.(`Downloading ${id}.tar.gz.`);
    return;
  }
  throw new Error(`download ${id}: the archive was exported, but no link to it could be made; try again`);
}
