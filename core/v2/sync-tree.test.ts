// syncTree: one syncfs through `sync -f` where it exists, else an fsync of every listed file and folder.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/crm.ts";
import { syncTree } from "./sync-tree.ts";

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

describe("syncTree", () => {
  it("commits the whole filesystem with one sync -f, without opening the listed files", async () => {
    const dir = tempDir("sync-tree-");
    writeFileSync(path.join(dir, "a"), "a");
    // A listed name that does not exist would fail an fsync; syncfs never looks at the list.
    await expect(syncTree(dir, [path.join(dir, "a"), path.join(dir, "gone")], [dir])).resolves.toBeUndefined();
  });

  it("falls back to an fsync of every file and folder when `sync` cannot run", async () => {
    const dir = tempDir("sync-tree-");
    mkdirSync(path.join(dir, "sub"));
    writeFileSync(path.join(dir, "sub", "a"), "a");
    process.env.PATH = path.join(dir, "no-binaries-here");
    await expect(syncTree(dir, [path.join(dir, "sub", "a")], [dir, path.join(dir, "sub")])).resolves.toBeUndefined();
    await expect(syncTree(dir, [path.join(dir, "sub", "gone")], [dir])).rejects.toMatchObject({ code: "ENOENT" });
  });
});
