// API tests for restoring chosen files (`include`): one upload of a v2 backup comes back, the rest keep their live changes.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readAudit, readManifest } from "../core/catalog.ts";
import { backupNow, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

type Err = { error: { code: string; message: string; fields?: { path: string; message: string }[] } };
const restore = (a: TestApi, json: Record<string, unknown>) => a.call("/api/backup/restore", { method: "POST", json: { components: ["uploads"], confirmToken: "CONFIRM_RESTORE", ...json } });

describe("POST /api/backup/restore with include", () => {
  it("restores only the chosen upload of a v2 backup; other live files keep their changes; the audit records include", async () => {
    api = await makeTestApi({}, { BACKUP_FORMAT: "v2" });
    const id = await backupNow(api);
    expect((await readManifest(api.deps.engine.storage, id)).formatVersion).toBe(2);
    const chosen = path.join(api.crm.root, "uploads/a.txt");
    const other = path.join(api.crm.root, "uploads/deep/nested/b.txt");
    writeFileSync(chosen, "changed a\n");
    writeFileSync(other, "changed b\n");
    const res = await restore(api, { backupId: id, include: ["uploads/a.txt"] });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    await api.runner.idle();
    const job = (await (await api.call(`/api/backup/jobs/${jobId}`)).json()) as { state: string; request: { include?: string[] } };
    expect(job).toMatchObject({ state: "succeeded", request: { include: ["uploads/a.txt"] } });
    expect(readFileSync(chosen, "utf8")).toBe("alpha\n");
    expect(readFileSync(other, "utf8")).toBe("changed b\n");
    const audit = (await readAudit(api.deps.engine.storage)).find((a) => a.action === "restore");
    expect(audit).toMatchObject({ backupId: id, result: "succeeded", components: ["uploads"], detail: { include: ["uploads/a.txt"] } });
  });

  it("restores a chosen folder of a v1 backup: everything under it comes back, files beside it keep their changes", async () => {
    api = await makeTestApi({}, { BACKUP_FORMAT: "v1" });
    const id = await backupNow(api);
    expect((await readManifest(api.deps.engine.storage, id)).formatVersion).toBe(1);
    const inside = path.join(api.crm.root, "uploads/deep/nested/b.txt");
    const beside = path.join(api.crm.root, "uploads/a.txt");
    writeFileSync(inside, "changed b\n");
    writeFileSync(beside, "changed a\n");
    const res = await restore(api, { backupId: id, include: ["uploads/deep/"] });
    expect(res.status).toBe(202);
    await api.runner.idle();
    expect(readFileSync(inside, "utf8")).toBe("bravo\n".repeat(1000));
    expect(readFileSync(beside, "utf8")).toBe("changed a\n");
  });

  it("refuses a path the backup does not hold with 400 naming the field, before any job starts", async () => {
    api = await makeTestApi({}, { BACKUP_FORMAT: "v2" });
    const id = await backupNow(api);
    const res = await restore(api, { backupId: id, include: ["uploads/a.txt", "uploads/nope.txt"] });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as Err;
    expect(error.fields).toEqual([{ path: "include.1", message: expect.stringContaining('holds no file or folder "uploads/nope.txt"') }]);
    expect(api.runner.current()).toBeNull();
    expect((await api.runner.list()).map((j) => j.kind)).toEqual(["backup"]);
  });

  it("refuses an absolute or escaping path, an empty list and a list over 1000 with the field named", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    const cases: [unknown, string, RegExp][] = [
      [["/etc/passwd"], "include.0", /relative path inside the backup/],
      [["uploads/../../x"], "include.0", /without a leading \/ or \.\./],
      [[], "include", /at least one path/],
      [Array.from({ length: 1001 }, () => "u"), "include", /at most 1000 paths/],
      [["x".repeat(1001)], "include.0", /at most 1000 characters/],
    ];
    for (const [include, field, message] of cases) {
      const res = await restore(api, { backupId: id, include });
      expect(res.status, JSON.stringify(include).slice(0, 40)).toBe(400);
      const { error } = (await res.json()) as Err;
      expect(error.fields).toEqual([{ path: field, message: expect.stringMatching(message) }]);
    }
  });
});
