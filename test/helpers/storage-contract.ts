// The behaviour every Storage must show, as a reusable vitest suite; it uses only the interface so S3 can run it too.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConflictError, NotFoundError, ObjectExistsError } from "../../core/errors.ts";
import type { Storage } from "../../core/storage/storage.ts";

export interface StorageFixture {
  storage: Storage;
  cleanup(): Promise<void>;
}

/** A stream of `size` pseudo-random bytes in 64 KiB chunks, plus the SHA-256 it should hash to. */
export function randomStream(size: number): { stream: Readable; sha256: string } {
  const data = randomBytes(size);
  const chunks: Buffer[] = [];
  for (let off = 0; off < size; off += 64 * 1024) chunks.push(data.subarray(off, off + 64 * 1024));
  return { stream: Readable.from(chunks, { objectMode: false }), sha256: sha256(data) };
}

/** A stream that yields `before` bytes and then fails, like a source file vanishing mid-backup. */
export function failingStream(before: number, message = "source read failed"): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(Buffer.alloc(before, 7));
      } else {
        this.destroy(new Error(message));
      }
    },
  });
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export function describeStorageContract(name: string, make: () => Promise<StorageFixture>): void {
  describe(`${name}: Storage contract`, () => {
    let fixture: StorageFixture;
    let s: Storage;

    beforeEach(async () => {
      fixture = await make();
      s = fixture.storage;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it("has a description", () => {
      expect(typeof s.description).toBe("string");
      expect(s.description.length).toBeGreaterThan(0);
    });

    it("round-trips a multi-MB stream byte for byte", async () => {
      const size = 5 * 1024 * 1024 + 123;
      const { stream, sha256: expected } = randomStream(size);
      const info = await s.put("daily/big.tar.gz", stream);
      expect(info).toMatchObject({ key: "daily/big.tar.gz", size });
      expect(info.modified).toBeInstanceOf(Date);
      const back = await readAll(await s.get("daily/big.tar.gz"));
      expect(back.length).toBe(size);
      expect(sha256(back)).toBe(expected);
      const st = await s.stat("daily/big.tar.gz");
      expect(st).toMatchObject({ key: "daily/big.tar.gz", size, version: info.version });
    });

    it("stores a Buffer and a string", async () => {
      const buf = Buffer.from([0, 1, 2, 255, 254]);
      await s.put("a/buf.bin", buf);
      await s.put("a/text.json", '{"héllo":"wörld"}');
      expect(await s.getBuffer("a/buf.bin")).toEqual(buf);
      expect((await s.getBuffer("a/text.json")).toString("utf8")).toBe('{"héllo":"wörld"}');
      expect((await s.stat("a/text.json"))?.size).toBe(Buffer.byteLength('{"héllo":"wörld"}'));
    });

    it("stores an empty object", async () => {
      await s.put("empty", "");
      expect((await s.getBuffer("empty")).length).toBe(0);
      expect((await s.stat("empty"))?.size).toBe(0);
    });

    it("overwrites an object and changes its version", async () => {
      const first = await s.put("m/manifest.json", "first version");
      const second = await s.put("m/manifest.json", "other version");
      expect(second.version).not.toBe(first.version);
      expect((await s.getBuffer("m/manifest.json")).toString()).toBe("other version");
      expect((await s.stat("m/manifest.json"))?.version).toBe(second.version);
      expect((await s.list("m/")).map((o) => o.key)).toEqual(["m/manifest.json"]);
    });

    it("reads byte ranges, inclusive, clamping an end past the object", async () => {
      const data = Buffer.from("0123456789abcdef");
      await s.put("r/obj", data);
      expect((await readAll(await s.get("r/obj", { start: 0, end: 0 }))).toString()).toBe("0");
      expect((await readAll(await s.get("r/obj", { start: 3, end: 7 }))).toString()).toBe("34567");
      expect((await readAll(await s.get("r/obj", { start: 10, end: 15 }))).toString()).toBe("abcdef");
      expect((await readAll(await s.get("r/obj", { start: 12, end: 1000 }))).toString()).toBe("cdef");
    });

    it("rejects a range that starts past the object or is reversed", async () => {
      await s.put("r/obj", "0123456789");
      await expect(s.get("r/obj", { start: 10, end: 20 })).rejects.toMatchObject({ code: "validation_error" });
      await expect(s.get("r/obj", { start: 5, end: 4 })).rejects.toMatchObject({ code: "validation_error" });
    });

    it("throws NotFoundError for a missing object and returns null from stat", async () => {
      await expect(s.get("nope/missing")).rejects.toBeInstanceOf(NotFoundError);
      await expect(s.get("nope/missing", { start: 0, end: 1 })).rejects.toBeInstanceOf(NotFoundError);
      await expect(s.getBuffer("nope/missing")).rejects.toBeInstanceOf(NotFoundError);
      expect(await s.stat("nope/missing")).toBeNull();
    });

    it("treats a key prefix of other keys as no object", async () => {
      await s.put("dir/child", "x");
      expect(await s.stat("dir")).toBeNull();
      await expect(s.getBuffer("dir")).rejects.toBeInstanceOf(NotFoundError);
    });

    it("lists by prefix, sorted, without leaking other prefixes", async () => {
      const keys = ["daily/b.tar.gz", "daily/a.tar.gz", "daily/sub/c.json", "dailyx/d", "weekly/a.tar.gz", "top"];
      for (const k of keys) await s.put(k, k);
      expect((await s.list("daily/")).map((o) => o.key)).toEqual(["daily/a.tar.gz", "daily/b.tar.gz", "daily/sub/c.json"]);
      expect((await s.list("daily")).map((o) => o.key)).toEqual([
        "daily/a.tar.gz",
        "daily/b.tar.gz",
        "daily/sub/c.json",
        "dailyx/d",
      ]);
      expect((await s.list("daily/a")).map((o) => o.key)).toEqual(["daily/a.tar.gz"]);
      expect((await s.list("")).map((o) => o.key)).toEqual([...keys].sort());
      expect(await s.list("monthly/")).toEqual([]);
      const [first] = await s.list("weekly/");
      expect(first).toMatchObject({ key: "weekly/a.tar.gz", size: "weekly/a.tar.gz".length });
      expect(first?.version).toBe((await s.stat("weekly/a.tar.gz"))?.version);
    });

    it("reports usage when it supports it", async () => {
      if (!s.usage) return;
      await s.put("u/a", Buffer.alloc(100));
      await s.put("u/b", Buffer.alloc(23));
      await s.put("v/c", Buffer.alloc(1000));
      expect(await s.usage("u/")).toBe(123);
      expect(await s.usage()).toBe(1123);
    });

    it("deletes idempotently", async () => {
      await s.put("d/x", "x");
      expect(await s.delete("d/x")).toBe(true);
      expect(await s.stat("d/x")).toBeNull();
      expect(await s.list("d/")).toEqual([]);
      expect(await s.delete("d/x")).toBe(true);
      expect(await s.delete("d/never-existed")).toBe(true);
    });

    it("deletes with ifVersion only when the version matches", async () => {
      const old = await s.put("d/lock", "one");
      const current = await s.put("d/lock", "two");
      expect(await s.delete("d/lock", { ifVersion: old.version })).toBe(false);
      expect((await s.getBuffer("d/lock")).toString()).toBe("two");
      expect(await s.delete("d/lock", { ifVersion: current.version })).toBe(true);
      expect(await s.stat("d/lock")).toBeNull();
      expect(await s.delete("d/lock", { ifVersion: current.version })).toBe(false);
    });

    it("a listing token, where the store gives one, stays while nothing changes and never repeats across added, replaced, nested or deleted objects", async () => {
      // The fs store withholds its token for 2 s after a folder changed (same-tick changes): a clock moved past that
      // shows the token itself; the pauses put each change in a timestamp tick of its own, as real changes are.
      vi.useFakeTimers({ toFake: ["Date"] });
      try {
        const pause = () => new Promise((r) => setTimeout(r, 25));
        const token = async () => {
          vi.setSystemTime(performance.timeOrigin + performance.now() + 5_000);
          return s.listingToken ? s.listingToken("t/") : null;
        };
        const seen: (string | null)[] = [];
        const change = async (what: () => Promise<unknown>) => {
          await pause();
          await what();
          seen.push(await token());
        };
        await change(() => s.put("t/a.json", "one"));
        expect(await token()).toBe(seen[0]); // unchanged
        await change(() => s.put("t/b.json", "two"));
        await change(() => s.put("t/a.json", "one, replaced"));
        await change(() => s.put("t/a.json", "ONE, REPLACED")); // same size
        await change(() => s.put("t/deeper/c.json", "nested"));
        await change(() => s.delete("t/b.json"));
        await change(() => s.delete("t/deeper/c.json"));
        const given = seen.filter((t) => t !== null);
        expect(new Set(given).size).toBe(given.length);
        if (s.listingToken) expect(given).toHaveLength(seen.length);
      } finally {
        vi.useRealTimers();
      }
    });

    it("createExclusive writes once and keeps the original content", async () => {
      expect(await s.createExclusive("locks/store.lock", "first")).toBe(true);
      expect(await s.createExclusive("locks/store.lock", Buffer.from("second"))).toBe(false);
      expect((await s.getBuffer("locks/store.lock")).toString()).toBe("first");
      expect((await s.list("locks/")).map((o) => o.key)).toEqual(["locks/store.lock"]);
    });

    it("createExclusive refuses a key written by put", async () => {
      await s.put("slots/daily-2024-01-01", "taken");
      expect(await s.createExclusive("slots/daily-2024-01-01", "mine")).toBe(false);
      expect((await s.getBuffer("slots/daily-2024-01-01")).toString()).toBe("taken");
    });

    it("put with ifAbsent writes a new key, and never replaces one: small, checksummed and multipart bodies", async () => {
      const first = randomStream(9 * 1024 * 1024); // above the S3 store's 8 MiB part size: a multipart upload
      await s.put("daily/once.tar.gz", first.stream, { ifAbsent: true });
      const again = randomStream(9 * 1024 * 1024);
      await expect(s.put("daily/once.tar.gz", again.stream, { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
      expect(sha256(await readAll(await s.get("daily/once.tar.gz")))).toBe(first.sha256);

      await s.put("daily/once.json", "{}", { ifAbsent: true });
      await expect(s.put("daily/once.json", '{"replaced":true}', { ifAbsent: true })).rejects.toThrow(/exists, and it is written once/);
      const pack = Buffer.from("pack bytes");
      await s.put("data/packs/ab/x.pack", pack, { sha256: sha256(pack), ifAbsent: true });
      const other = Buffer.from("other bytes");
      await expect(s.put("data/packs/ab/x.pack", other, { sha256: sha256(other), ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
      expect((await s.getBuffer("daily/once.json")).toString()).toBe("{}");
      expect((await s.getBuffer("data/packs/ab/x.pack")).toString()).toBe("pack bytes");
    });

    it("put with ifVersion replaces only the version it names, and nothing that changed or went: small and checksummed bodies", async () => {
      const first = await s.put("daily/m.json", "one", { ifAbsent: true });
      const second = await s.put("daily/m.json", "two", { ifVersion: first.version });
      expect((await s.getBuffer("daily/m.json")).toString()).toBe("two");
      await expect(s.put("daily/m.json", "three", { ifVersion: first.version })).rejects.toBeInstanceOf(ConflictError);
      const body = Buffer.from("four");
      await expect(s.put("daily/m.json", body, { sha256: sha256(body), ifVersion: first.version })).rejects.toBeInstanceOf(ConflictError);
      expect((await s.getBuffer("daily/m.json")).toString()).toBe("two");
      await s.put("daily/m.json", body, { sha256: sha256(body), ifVersion: (await s.stat("daily/m.json"))!.version });
      expect((await s.getBuffer("daily/m.json")).toString()).toBe("four");
      expect(second.version).not.toBe(first.version);
      await s.delete("daily/m.json");
      await expect(s.put("daily/m.json", "five", { ifVersion: second.version })).rejects.toBeInstanceOf(ConflictError);
      expect(await s.stat("daily/m.json")).toBeNull();
    });

    it("lets exactly one of 10 concurrent createExclusive callers win", async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => s.createExclusive("locks/race", `caller ${i} `.repeat(1000))),
      );
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners).toHaveLength(1);
      expect((await s.getBuffer("locks/race")).toString()).toBe(`caller ${winners[0]} `.repeat(1000));
    });

    it("stores nothing when the stream fails, and rethrows its error", async () => {
      await expect(s.put("daily/broken.tar.gz", failingStream(256 * 1024, "disk on fire"))).rejects.toThrow(
        "disk on fire",
      );
      expect(await s.stat("daily/broken.tar.gz")).toBeNull();
      expect(await s.list("")).toEqual([]);
      await expect(s.getBuffer("daily/broken.tar.gz")).rejects.toBeInstanceOf(NotFoundError);
    });

    it("keeps the old object when an overwriting stream fails", async () => {
      const before = await s.put("m/manifest.json", "good");
      await expect(s.put("m/manifest.json", failingStream(10))).rejects.toThrow("source read failed");
      expect((await s.getBuffer("m/manifest.json")).toString()).toBe("good");
      expect((await s.stat("m/manifest.json"))?.version).toBe(before.version);
    });

    it("rejects unsafe keys", async () => {
      for (const key of ["", "/abs", "a/../b", "..", "a//b", "a/", "a\\b", "a\0b"]) {
        await expect(s.put(key, "x"), JSON.stringify(key)).rejects.toMatchObject({ code: "validation_error" });
      }
    });
  });
}
