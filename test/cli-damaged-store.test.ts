// The CLI over a damaged store: list, status, verify latest, cleanup and backup keep working and name the damage; delete clears it.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archiveKey, manifestKey } from "../core/ids.ts";
import { tempDir } from "./helpers/crm.ts";
import { cli } from "./helpers/run-cli.ts";

describe("colab-backup CLI over a damaged store", () => {
  it("lists, reports, verifies and cleans up around a damaged manifest and an orphan archive, and deletes them by id", async () => {
    const cwd = tempDir("cli-damaged-store-");
    const store = path.join(cwd, "backups");
    const good = JSON.parse((await cli(["backup", "--type", "daily", "--json"], { cwd })).stdout).id as string;
    // Newer than the good backup, so `verify latest` would pick them if it did not skip what it cannot read.
    const broken = "daily-20991231T020000Z-aaaaaa";
    const orphan = "manual-20991231T030000Z-bbbbbb";
    writeFileSync(path.join(store, manifestKey(broken)), "{not json");
    writeFileSync(path.join(store, archiveKey(broken)), "an archive whose manifest broke");
    mkdirSync(path.join(store, "manual"), { recursive: true });
    writeFileSync(path.join(store, archiveKey(orphan)), "an archive whose manifest was lost");

    const list = await cli(["list"], { cwd });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(good);
    expect(list.stdout).toMatch(new RegExp(`Damaged manifests \\(1;[\\s\\S]*daily/${broken}\\.json: it is not valid JSON`));
    expect(list.stdout).toMatch(new RegExp(`Archives without a manifest \\(1;[\\s\\S]*manual/${orphan}\\.tar\\.gz: 34 B`));
    const listJson = JSON.parse((await cli(["list", "--json"], { cwd })).stdout);
    expect(listJson.backups.map((b: { id: string }) => b.id)).toEqual([good]);
    expect(listJson.damaged).toEqual([{ key: manifestKey(broken), id: broken, reason: expect.stringContaining("not valid JSON") }]);
    expect(listJson.orphans).toEqual([expect.objectContaining({ key: archiveKey(orphan), id: orphan, sizeBytes: 34 })]);

    const status = await cli(["status"], { cwd });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("Store problems: 1 damaged manifest(s), 1 archive(s) without a manifest, 0 interrupted backup(s)");
    expect(status.stdout).toMatch(/in work files/);
    const statusJson = JSON.parse((await cli(["status", "--json"], { cwd })).stdout);
    expect(statusJson).toMatchObject({ backups: { total: 1 }, catalog: { damaged: [{ id: broken }], orphans: [{ id: orphan }] }, storage: { workBytes: expect.any(Number) } });

    const verify = await cli(["verify", "latest", "--json"], { cwd });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout).report).toMatchObject({ id: good, ok: true });
    const direct = await cli(["verify", broken], { cwd });
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain(`read manifest daily/${broken}.json: it is not valid JSON`);

    // Neither a backup nor cleanup removes what it cannot read or cannot tell apart from an intact backup.
    expect((await cli(["backup", "--type", "daily"], { cwd })).code).toBe(0);
    const cleanup = await cli(["cleanup"], { cwd });
    expect(cleanup.code).toBe(0);
    expect(cleanup.stdout).toContain(`kept daily/${broken}.json and its archive: it is not valid JSON`);
    expect(cleanup.stdout).toMatch(new RegExp(`kept manual/${orphan}\\.tar\\.gz: no manifest; removable after \\d{4}-\\d\\d-\\d\\dT`));
    for (const key of [manifestKey(broken), archiveKey(broken), archiveKey(orphan)]) expect(existsSync(path.join(store, key))).toBe(true);

    const delBroken = await cli(["delete", broken], { cwd });
    expect(delBroken.code).toBe(0);
    expect(delBroken.stdout).toContain(`Deleted ${broken} (a damaged manifest and its archive)`);
    const delOrphan = await cli(["delete", orphan, "--json"], { cwd });
    expect(JSON.parse(delOrphan.stdout)).toMatchObject({ ok: true, deleted: orphan, kind: "orphan", freedBytes: 34 });
    for (const key of [manifestKey(broken), archiveKey(broken), archiveKey(orphan)]) expect(existsSync(path.join(store, key))).toBe(false);
    const audit = readdirSync(path.join(store, "audit")).map((f) => JSON.parse(readFileSync(path.join(store, "audit", f), "utf8")));
    expect(audit).toContainEqual(expect.objectContaining({ action: "delete", backupId: broken, detail: expect.objectContaining({ kind: "damaged" }) }));
    expect(audit).toContainEqual(expect.objectContaining({ action: "delete", backupId: orphan, detail: expect.objectContaining({ kind: "orphan" }) }));
  }, 180_000); // a dozen CLI processes, each starting Node and tsx
});
