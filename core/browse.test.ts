// Path matching and file choice for `ls` and `restore --include`, on a real backup's manifest.
import { beforeAll, describe, expect, it } from "vitest";
import { makeCrm, makeTestEngine } from "../test/helpers/crm.ts";
import { createBackup } from "./backup.ts";
import { chooseFiles, includedEntries, listBackupFiles, normalisePath, pathMatches } from "./browse.ts";
import type { StoredManifest } from "./manifest.ts";

let manifest: StoredManifest;

beforeAll(async () => {
  const out = await createBackup(makeTestEngine(makeCrm().root, undefined, { BACKUP_FORMAT: "v2" }), { type: "manual" });
  if (out.skipped) throw new Error("unexpected skip");
  manifest = out.manifest;
});

describe("browse", () => {
  it("normalises ./ and trailing slashes and refuses absolute or .. paths", () => {
    expect(normalisePath("./uploads/deep/", "ls")).toBe("uploads/deep");
    expect(normalisePath("uploads//deep", "ls")).toBe("uploads/deep");
    expect(() => normalisePath("/etc/passwd", "ls")).toThrow(/is not a path inside a backup/);
    expect(() => normalisePath("uploads/../config", "ls")).toThrow(/is not a path inside a backup/);
    expect(() => normalisePath(" / ", "ls")).toThrow(/the path is empty/);
  });

  it("matches a file, the folders above it, and a log by its restored name, but not a name that only starts the same", () => {
    expect(pathMatches("uploads/deep/nested/b.txt", "uploads/deep")).toBe(true);
    expect(pathMatches("uploads/deep/nested/b.txt", "uploads/dee")).toBe(false);
    expect(pathMatches("logs/app.log.gz", "logs/app.log")).toBe(true);
    expect(pathMatches("uploads/app.log.gz", "uploads/app.log")).toBe(false);
  });

  it("cuts the manifest down to the chosen files, with counts and sizes to match, and leaves the original alone", () => {
    const { manifest: cut, components, paths } = chooseFiles(manifest, ["database", "uploads", "config", "logs"], ["uploads/deep/", "config/package.json"]);
    expect(components).toEqual(["uploads", "config"]);
    expect(paths).toEqual(["uploads/deep", "config/package.json"]);
    expect(cut.components.uploads!.files.map((f) => f.path)).toEqual(["uploads/deep/nested/b.txt"]);
    expect(cut.components.uploads).toMatchObject({ fileCount: 1, totalSize: 6000 });
    expect(cut.components.database!.files).toEqual([]);
    expect(manifest.components.uploads!.files.length).toBe(5);
    const select = includedEntries(cut, components);
    expect([select("uploads/deep/nested/b.txt"), select("uploads/a.txt"), select("config/package.json")]).toEqual([true, false, true]);
  });

  it("refuses a path that matches nothing, suggesting the closest one, and lists nothing for it either", () => {
    expect(() => chooseFiles(manifest, ["uploads"], ["uploads/medai"])).toThrow(/holds no file or folder "uploads\/medai" \(did you mean "uploads\/media"\?\)/);
    expect(() => chooseFiles(manifest, ["uploads"], ["config/package.json"])).toThrow(/among the components asked for \(uploads\); add its component to --components;/);
    expect(() => listBackupFiles(manifest, "nothing/here")).toThrow(/holds no file or folder "nothing\/here"/);
    expect(listBackupFiles(manifest, "database").files.map((f) => f.path)).toEqual(["database/dev.db"]);
  });
});
