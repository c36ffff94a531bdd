// syncTree: an fsync of each listed file and folder when few, else one syncfs through `sync -f` (fsyncs where it cannot run).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/crm.ts";
import { FSYNC_EACH_LIMIT, syncTree } from "./sync-tree.ts";

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

/** More names than FSYNC_EACH_LIMIT, all missing but the first: only a syncfs, which never opens them, can pass. */
const manyNames = (dir: string) => [path.join(dir, "a"), ...Array.from({ length: FSYNC_EACH_LIMIT }, (_, i) => path.join(dir, `gone-${i}`))];

describe("syncTree", () => {
  it("commits many files with one sync -f, without opening the listed files", async () => {
    const dir = tempDir("sync-tree-");
    writeFileSync(path.join(dir, "a"), "a");
    await expect(syncTree(dir, manyNames(dir), [dir])).resolves.toBeUndefined();
  });

  it("fsyncs each of a few files itself rather than the whole filesystem", async () => {
    const dir = tempDir("sync-tree-");
    writeFileSync(path.join(dir, "a"), "a");
    await expect(syncTree(dir, [path.join(dir, "a")], [dir])).resolves.toBeUndefined();
    // A listed name that does not exist fails its fsync: proof the list was opened, not the filesystem synced.
    await expect(syncTree(dir, [path.join(dir, "a"), path.join(dir, "gone")], [dir])).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("falls back to an fsync of every file and folder when `sync` cannot run", async () => {
    const dir = tempDir("sync-tree-");
    mkdirSync(path.join(dir, "sub"));
    writeFileSync(path.join(dir, "sub", "a"), "a");
    process.env.PATH = path.join(dir, "no-binaries-here");
    await expect(syncTree(dir, [path.join(dir, "sub", "a")], [dir, path.join(dir, "sub")])).resolves.toBeUndefined();
    await expect(syncTree(dir, manyNames(dir), [dir])).rejects.toMatchObject({ code: "ENOENT" });
  });
});
