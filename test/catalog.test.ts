// The catalog's listing: summaries without file lists, kept while a manifest's stored version is unchanged.
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { listBackups, readManifest, removeBackup } from "../core/catalog.ts";
import { manifestKey } from "../core/ids.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";

describe("listBackups", () => {
  it("lists summaries without per-file lists, and sees rewrites and deletions despite its cache", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const out = await runBackup(engine, { type: "manual", description: "first" });
    if (out.skipped) throw new Error("unexpected skip");
    const [listed] = await listBackups(engine.storage);
    expect(listed).toMatchObject({ id: out.manifest.id, description: "first", components: { uploads: { status: "included", fileCount: 5 } } });
    expect(listed!.components.uploads).not.toHaveProperty("files");

    const full = await readManifest(engine.storage, out.manifest.id);
    expect(full.components.uploads!.files).toHaveLength(5);
    await engine.storage.put(manifestKey(full.id), JSON.stringify({ ...full, description: "rewritten" }));
    expect((await listBackups(engine.storage))[0]!.description).toBe("rewritten");

    await removeBackup(engine.storage, full.id);
    expect(await listBackups(engine.storage)).toEqual([]);
  });
});
