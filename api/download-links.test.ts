// The download link route on a local store: a one-time link, valid for a minute, handed only to an admin, that streams v1 archives and v2 exports.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import { exportStream } from "../core/v2/export.ts";
import { makeTestEngine } from "../test/helpers/crm.ts";
import { LINK_SECONDS } from "./download-links.ts";
import { makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A backup in the API's store, written in the given format whatever the default is. */
async function backupIn(api: TestApi, format: "v1" | "v2"): Promise<string> {
  const engine = makeTestEngine(api.crm.root, api.deps.engine.config.backupDir, { BACKUP_FORMAT: format });
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped) throw new Error("backup skipped");
  return out.manifest.id;
}

async function expectedBytes(api: TestApi, id: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await exportStream(api.deps.engine.storage, await readManifest(api.deps.engine.storage, id))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function link(api: TestApi, id: string): Promise<{ url: string; expiresAt: string; oneTime: boolean }> {
  const res = await api.call(`/api/backup/${id}/download-link`, { method: "POST" });
  expect(res.status).toBe(200);
  return res.json() as never;
}

describe("POST /api/backup/{id}/download-link (local store)", () => {
  it.each(["v1", "v2"] as const)("gives a %s backup a one-time link that streams its archive without an Authorization header, once", async (format) => {
    const api = await makeTestApi();
    const id = await backupIn(api, format);
    const before = Date.now();
    const l = await link(api, id);
    expect(l).toMatchObject({ url: expect.stringMatching(/^\/api\/download\/[A-Za-z0-9_-]{43}$/), oneTime: true });
    const expires = Date.parse(l.expiresAt) - before;
    expect(expires).toBeGreaterThan((LINK_SECONDS - 5) * 1000);
    expect(expires).toBeLessThanOrEqual(LINK_SECONDS * 1000 + 5000);

    // A navigation carries no bearer token: the link itself is the credential.
    const res = await api.app.request(l.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${id}.tar.gz"`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(sha256(bytes)).toBe(sha256(await expectedBytes(api, id)));
    if (format === "v1") {
      const m = await readManifest(api.deps.engine.storage, id);
      if (m.formatVersion !== 1) throw new Error("expected v1");
      expect(sha256(bytes)).toBe(m.archive.sha256);
    }

    const again = await api.app.request(l.url);
    expect(again.status).toBe(404);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(/unknown, used or expired.*start the download again/);
  });

  it("refuses a link once its minute has passed, and each click gets a new link", async () => {
    const api = await makeTestApi();
    const id = await backupIn(api, "v2");
    const first = await link(api, id);
    const second = await link(api, id);
    expect(second.url).not.toBe(first.url);
    const realNow = api.deps.engine.now;
    api.deps.engine.now = () => new Date(realNow().getTime() + LINK_SECONDS * 1000 + 1);
    expect((await api.app.request(first.url)).status).toBe(404);
    api.deps.engine.now = realNow;
    // The other link was not spent by the expired one's refusal.
    expect((await api.app.request(second.url)).status).toBe(200);
  });

  it("is for admins only, for listed backups only, and a link that was never issued is refused", async () => {
    const api = await makeTestApi();
    const id = await backupIn(api, "v1");
    expect((await api.app.request(`/api/backup/${id}/download-link`, { method: "POST" })).status).toBe(401);
    const { hsToken } = await import("../test/helpers/test-api.ts");
    const user = await hsToken({ sub: "u2", role: "USER" });
    expect((await api.app.request(`/api/backup/${id}/download-link`, { method: "POST", headers: { authorization: `Bearer ${user}` } })).status).toBe(403);
    const missing = await api.call(`/api/backup/manual-20200101T000000Z-deadbe/download-link`, { method: "POST" });
    expect(missing.status).toBe(404);
    expect((await api.app.request(`/api/download/${"A".repeat(43)}`)).status).toBe(404);
    const malformed = await api.app.request("/api/download/not-a-token");
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { message: string } }).error.message).toMatch(/download token/);
  });

  it("keeps GET /api/backup/{id}/download streaming the archive locally, as the original system's API did", async () => {
    const api = await makeTestApi();
    const id = await backupIn(api, "v1");
    const res = await api.call(`/api/backup/${id}/download`);
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(await expectedBytes(api, id)));
  });
});
