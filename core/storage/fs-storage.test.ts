// Runs the Storage contract against FsStorage, plus fs-only promises: key validation, temp files, crash safety.
import { mkdtemp, readdir, rm, stat, utimes, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { OWNER_TAG, ownerTag } from "../owner.ts";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreError, ValidationError } from "../errors.ts";
import { FsStorage } from "./fs-storage.ts";
import { describeStorageContract, failingStream } from "../../test/helpers/storage-contract.ts";

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), "colab-fs-storage-"));
}

describeStorageContract("FsStorage", async () => {
  const root = await tempRoot();
  return { storage: new FsStorage(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe("FsStorage", () => {
  let root: string;
  let s: FsStorage;

  beforeEach(async () => {
    root = await tempRoot();
    s = new FsStorage(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("gives no listing token while a folder under the prefix changed within the last 2 s (a same-tick change could hide)", async () => {
    await s.put("daily/a.json", "a");
    await s.put("daily/sub/x.json", "x");
    expect(await s.listingToken("daily/")).toBeNull();
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 2_500);
      const settled = await s.listingToken("daily/");
      expect(settled).toMatch(/^[0-9a-f]{64}$/);
      expect(await s.listingToken("weekly/")).toMatch(/^[0-9a-f]{64}$/); // absent folder: a token, list() is empty
      expect(await s.listingToken("daily/a")).toBeNull(); // not a folder prefix
      await s.put("daily/sub/b.json", "b"); // only the sub-folder changes
      vi.setSystemTime(performance.timeOrigin + performance.now() + 1_000);
      expect(await s.listingToken("daily/")).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("maps keys to files under the root", async () => {
    await s.put("daily/x.tar.gz", "data");
    expect((await stat(path.join(root, "daily", "x.tar.gz"))).size).toBe(4);
    expect(s.description).toBe(root);
  });

  it("uses mtime, size and inode as the version", async () => {
    const info = await s.put("v", "12345");
    const st = await stat(path.join(root, "v"));
    expect(info.version).toBe(`${st.mtimeMs}-${st.size}-${st.ino}`);
  });

  it("rejects unsafe keys on every method with ValidationError", async () => {
    const bad = ["", "/etc/passwd", "../x", "a/../../b", "a/./b", "a//b", "a/", "a\\b", "a\0b", "temp/x", "temp", "C:/x"];
    for (const key of bad) {
      const label = JSON.stringify(key);
      await expect(s.put(key, "x"), label).rejects.toBeInstanceOf(ValidationError);
      await expect(s.createExclusive(key, "x"), label).rejects.toBeInstanceOf(ValidationError);
      await expect(s.get(key), label).rejects.toBeInstanceOf(ValidationError);
      await expect(s.getBuffer(key), label).rejects.toBeInstanceOf(ValidationError);
      await expect(s.stat(key), label).rejects.toBeInstanceOf(ValidationError);
      await expect(s.delete(key), label).rejects.toBeInstanceOf(ValidationError);
    }
    for (const prefix of ["/abs", "../", "a//", "a\\"]) {
      await expect(s.list(prefix), prefix).rejects.toBeInstanceOf(ValidationError);
    }
    expect(await readdir(root)).toEqual([]);
  });

  it("refuses a key whose parent is already an object", async () => {
    await s.put("a", "file");
    await expect(s.put("a/b", "x")).rejects.toBeInstanceOf(StoreError);
    await s.put("dir/child", "x");
    await expect(s.put("dir", "x")).rejects.toBeInstanceOf(StoreError);
    expect((await s.list("")).map((o) => o.key)).toEqual(["a", "dir/child"]);
  });

  it("never lists temp files, even while a put is in progress", async () => {
    await s.put("daily/done", "x");
    const body = new PassThrough();
    const pending = s.put("daily/slow", body);
    body.write(Buffer.alloc(1000));
    await waitFor(async () => (await readdir(path.join(root, "temp")).catch(() => [])).length === 1);
    expect((await s.list("")).map((o) => o.key)).toEqual(["daily/done"]);
    expect(await s.list("temp/")).toEqual([]);
    expect(await s.usage()).toBe(1);
    body.end(Buffer.alloc(24));
    expect((await pending).size).toBe(1024);
    expect((await s.list("")).map((o) => o.key)).toEqual(["daily/done", "daily/slow"]);
    expect(await readdir(path.join(root, "temp"))).toEqual([]);
  });

  it("keeps a custom temp dir inside the root out of listings and keys", async () => {
    const custom = new FsStorage(root, { tempDir: path.join(root, ".staging") });
    await custom.put("k", "v");
    await writeFile(path.join(root, ".staging", "left.tmp"), "junk");
    expect((await custom.list("")).map((o) => o.key)).toEqual(["k"]);
    await expect(custom.put(".staging/x", "v")).rejects.toBeInstanceOf(ValidationError);
  });

  it("cleanTempDir removes temp files of dead owners at once, and untagged ones only after a day", async () => {
    const temp = path.join(root, "temp");
    await mkdir(temp, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!; // exited: its pid names no live process
    const names = {
      deadOwner: `put-${ownerTag(dead)}-1-a.tmp`,
      otherBoot: `put-${ownerTag(process.pid, "0badb007")}-1-b.tmp`,
      live: `put-${OWNER_TAG}-1-c.tmp`,
      untaggedOld: "put-1-old.tmp",
      untaggedNew: "put-2-new.tmp",
    };
    for (const n of Object.values(names)) await writeFile(path.join(temp, n), "x");
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    await utimes(path.join(temp, names.untaggedOld), twoDaysAgo, twoDaysAgo);
    await s.put("kept", "x");
    expect(await s.cleanTempDir()).toEqual([names.deadOwner, names.otherBoot, names.untaggedOld].sort());
    expect((await readdir(temp)).sort()).toEqual([names.live, names.untaggedNew].sort());
    expect(await s.stat("kept")).not.toBeNull();
    expect(await new FsStorage(path.join(root, "nowhere")).cleanTempDir()).toEqual([]);
  });

  it("leaves no file, temp or final, when the stream dies mid-put", async () => {
    await expect(s.put("daily/crash.tar.gz", failingStream(512 * 1024, "killed"))).rejects.toThrow("killed");
    expect(await s.stat("daily/crash.tar.gz")).toBeNull();
    expect(await readdir(path.join(root, "temp"))).toEqual([]);
    await expect(stat(path.join(root, "daily", "crash.tar.gz"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("leaves no temp file after createExclusive, won or lost", async () => {
    expect(await s.createExclusive("locks/l", "a")).toBe(true);
    expect(await s.createExclusive("locks/l", "b")).toBe(false);
    expect(await readdir(path.join(root, "temp"))).toEqual([]);
  });

  it("delete prunes nothing but the file", async () => {
    await s.put("daily/only", "x");
    await s.delete("daily/only");
    expect(await readdir(path.join(root, "daily"))).toEqual([]);
  });

  it("lists an absent root as empty", async () => {
    expect(await new FsStorage(path.join(root, "missing")).list("")).toEqual([]);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
