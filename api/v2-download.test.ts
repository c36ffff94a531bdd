// The API over a store holding a v2 backup: listed, its manifest served, and its download the exported standard .tar.gz.
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import { exportStream } from "../core/v2/export.ts";
import { makeTestEngine } from "../test/helpers/crm.ts";
import { makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi;

describe("v2 backups through the API", () => {
  it("lists a v2 backup and streams its export as the download", async () => {
    api = await makeTestApi();
    const v2 = makeTestEngine(api.crm.root, api.deps.engine.config.backupDir, { BACKUP_FORMAT: "v2" });
    const out = await runBackup(v2, { type: "manual" });
    if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    const id = out.manifest.id;
    const list = (await (await api.call("/api/backup")).json()) as { items: { id: string; sizeBytes: number }[] };
    expect(list.items.find((b) => b.id === id)?.sizeBytes).toBe(out.manifest.stored.referencedBytes);
    const m = (await (await api.call(`/api/backup/${id}`)).json()) as { formatVersion: number };
    expect(m.formatVersion).toBe(2);
    const res = await api.call(`/api/backup/${id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    const bytes = Buffer.from(await res.arrayBuffer());
    const expected: Buffer[] = [];
    // The same bytes as the CLI's export, which also reads the stored manifest.
    for await (const c of await exportStream(v2.storage, await readManifest(v2.storage, id))) expected.push(c as Buffer);
    expect(bytes.equals(Buffer.concat(expected))).toBe(true);
  });
});
