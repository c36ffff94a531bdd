// The API over a damaged store: the list, status and cleanup keep answering and name what is damaged; a damaged backup is a 500.
import { afterEach, describe, expect, it } from "vitest";
import { createBackup } from "../core/backup.ts";
import { readAudit } from "../core/catalog.ts";
import { archiveKey, manifestKey } from "../core/ids.ts";
import { plantDamage } from "../test/helpers/store-damage.ts";
import { makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

async function damagedApi() {
  api = await makeTestApi();
  return { api, ids: await plantDamage(api.deps.engine) };
}

describe("the API over a damaged store", () => {
  it("lists the readable backups and, beside them, the damaged manifests, orphans and interrupted runs", async () => {
    const { api, ids } = await damagedApi();
    const res = await api.call("/api/backup");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { total: number; items: { id: string }[]; damaged: { key: string; reason: string }[]; orphans: { key: string }[]; incomplete: { id: string }[] };
    expect(body.total).toBe(1);
    expect(body.items.map((i) => i.id)).toEqual([ids.good]);
    expect(body.damaged).toContainEqual({ key: manifestKey(ids.notJson), id: ids.notJson, reason: expect.stringContaining("not valid JSON") });
    expect(body.damaged).toHaveLength(4);
    expect(body.orphans.map((o) => o.key)).toEqual([archiveKey(ids.orphan)]);
    expect(body.incomplete.map((i) => i.id).sort()).toEqual([ids.incomplete, ids.markerOnly].sort());
  });

  it("answers 500 naming the key and the reason for a damaged backup, and still 404 for a missing one", async () => {
    const { api, ids } = await damagedApi();
    for (const path of [`/api/backup/${ids.notJson}`, `/api/backup/${ids.notJson}/download`]) {
      const res = await api.call(path);
      expect(res.status).toBe(500);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe("store_error");
      expect(error.message).toContain(`read manifest daily/${ids.notJson}.json: it is not valid JSON`);
    }
    expect((await api.call(`/api/backup/${ids.orphan}`)).status).toBe(404);
    expect((await api.call(`/api/backup/${ids.good}`)).status).toBe(200);
  });

  it("reports the damage in status and turns unhealthy, though the newest backup is fresh", async () => {
    const { api, ids } = await damagedApi();
    await createBackup(api.deps.engine, { type: "daily", components: ["config"] }); // fresh, so only the damage can make it unhealthy
    const before = (await (await api.call("/api/backup/status")).json()) as { health: { healthy: boolean; reasons: string[] } };
    await api.deps.engine.storage.delete(manifestKey(ids.notJson)); // keep the others
    const res = await api.call("/api/backup/status");
    expect(res.status).toBe(200);
    const s = (await res.json()) as {
      health: { healthy: boolean; reasons: string[] };
      catalog: { damaged: { key: string }[]; orphans: { key: string }[] };
      storage: { workBytes: number };
      backups: { total: number };
    };
    expect(before.health.healthy).toBe(false);
    expect(before.health.reasons.join("\n")).toContain(`4 damaged manifests in the store (${manifestKey(ids.notJson)}: it is not valid JSON`);
    expect(s.backups.total).toBe(2);
    expect(s.catalog.damaged).toHaveLength(3);
    expect(s.catalog.orphans.map((o) => o.key)).toEqual([archiveKey(ids.orphan), archiveKey(ids.notJson)].sort());
    expect(s.health.reasons.join("\n")).toMatch(/2 archives without a manifest \(.*weekly-20261122T020000Z-cccccc\.tar\.gz.*\); .*after 7 days/);
    expect(s.storage.workBytes).toEqual(expect.any(Number));

    // Once the damage is gone (deleted by id through the API), the verdict is healthy again.
    for (const d of [...s.catalog.damaged, ...s.catalog.orphans]) {
      const id = d.key.slice(d.key.indexOf("/") + 1).replace(/\.(json|tar\.gz)$/, "");
      const del = await api.call(`/api/backup/${id}`, { method: "DELETE" });
      expect(del.status).toBe(200);
    }
    const after = (await (await api.call("/api/backup/status")).json()) as { health: { healthy: boolean; reasons: string[] } };
    expect(after.health).toMatchObject({ healthy: true, reasons: [] });
    const audit = await readAudit(api.deps.engine.storage);
    expect(audit.find((a) => a.backupId === ids.orphan)).toMatchObject({ action: "delete", actor: "admin@example.com", detail: { kind: "orphan" } });
  });

  it("runs cleanup and reports what it kept because it could not read it", async () => {
    const { api, ids } = await damagedApi();
    const res = await api.call("/api/backup/cleanup", { method: "POST", json: { dryRun: false } });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    await api.runner.idle();
    const job = (await (await api.call(`/api/backup/jobs/${jobId}`)).json()) as { state: string; result: unknown };
    expect(job.state).toBe("succeeded");
    const out = job.result as { damaged: { id: string }[]; orphansKept: { key: string }[]; leftoversRemoved: string[] };
    expect(out.damaged.map((d) => d.id)).toContain(ids.notJson);
    expect(out.orphansKept.map((o) => o.key)).toEqual([archiveKey(ids.orphan)]);
    expect(out.leftoversRemoved.sort()).toEqual([ids.incomplete, ids.markerOnly].sort());
  });
});
