// walkFiles: folders listed many at once, yet the same depth-first, name-sorted order a serial walk gives.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/crm.ts";
import { walkFiles } from "./files.ts";

describe("walkFiles", () => {
  it("lists regular files depth first in name order, and names what it skips", async () => {
    const root = tempDir("walk-files-");
    // More folders than are listed at once, so the order cannot come from the listing order.
    for (let i = 0; i < 40; i++) {
      const dir = path.join(root, `d${String(39 - i).padStart(2, "0")}`, "inner");
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "z.txt"), "z");
      writeFileSync(path.join(dir, "a.txt"), "a");
    }
    writeFileSync(path.join(root, "b.txt"), "b");
    writeFileSync(path.join(root, "e.log"), "e");
    symlinkSync("b.txt", path.join(root, "link"));
    const { files, skipped } = await walkFiles(root);
    const expected = ["b.txt"];
    for (let i = 0; i < 40; i++) expected.push(`d${String(i).padStart(2, "0")}/inner/a.txt`, `d${String(i).padStart(2, "0")}/inner/z.txt`);
    expected.push("e.log");
    expect(files).toEqual(expected);
    expect(skipped).toEqual(["link: not a regular file or folder (links and special files are not backed up)"]);
    expect((await walkFiles(root, (rel) => rel.endsWith(".log"))).files).toEqual(["e.log"]);
  });

  it("fails when the root is not there", async () => {
    await expect(walkFiles(path.join(tempDir("walk-files-"), "missing"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
