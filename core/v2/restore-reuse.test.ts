// LiveFiles' kept files: a live file left in place as the backup's is re-checked before the restore commits.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FileEntryV2 } from "../manifest.ts";
import { LiveFiles } from "./restore-reuse.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A live uploads folder with `name` holding `body`, and the backup record of exactly that file. */
function liveUpload(name: string, body: string): { live: LiveFiles; file: string; entry: FileEntryV2 } {
  const root = mkdtempSync(path.join(tmpdir(), "colab-kept-"));
  dirs.push(root);
  mkdirSync(path.join(root, "uploads"));
  const file = path.join(root, "uploads", name);
  writeFileSync(file, body, { mode: 0o644 });
  const st = statSync(file);
  const entry: FileEntryV2 = {
    path: `uploads/${name}`, size: st.size, sha256: createHash("sha256").update(body).digest("hex"), mode: 0o644,
    mtime: new Date(st.mtimeMs).toISOString(), blobs: [],
  };
  return { live: new LiveFiles({ root, uploads: path.join(root, "uploads") }, new Map()), file, entry };
}

describe("LiveFiles kept files", () => {
  it("keeps an equal live file and names none changed while nothing touched it", async () => {
    const { live, entry } = liveUpload("a.txt", "hello");
    expect(await live.keepIfSame(entry)).toBe(true);
    expect(live.kept.size).toBe(1);
    expect(await live.changedKept()).toBeNull();
  });

  it("names a kept file written after it was judged", async () => {
    const { live, file, entry } = liveUpload("a.txt", "hello");
    expect(await live.keepIfSame(entry)).toBe(true);
    writeFileSync(file, "HELLO");
    expect(await live.changedKept()).toBe(file);
  });

  it("names a kept file replaced by another with the same size and times, and one removed", async () => {
    const { live, file, entry } = liveUpload("a.txt", "hello");
    expect(await live.keepIfSame(entry)).toBe(true);
    const st = statSync(file);
    writeFileSync(`${file}.new`, "hello", { mode: 0o644 });
    utimesSync(`${file}.new`, st.atime, st.mtime);
    renameSync(`${file}.new`, file); // another inode
    expect(await live.changedKept()).toBe(file);
    rmSync(file);
    expect(await live.changedKept()).toBe(file);
  });

  it("does not keep a live file whose content differs from the backup's", async () => {
    const { live, entry } = liveUpload("a.txt", "hello");
    expect(await live.keepIfSame({ ...entry, sha256: createHash("sha256").update("other").digest("hex") })).toBe(false);
    expect(live.kept.size).toBe(0);
  });
});
