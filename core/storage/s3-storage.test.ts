// The S3 store against LocalStack (started by the vitest globalSetup): the shared Storage contract plus what only S3 does.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { NotFoundError } from "../errors.ts";
import { CREDENTIALS } from "../../test/localstack/config.ts";
import { adminS3, deletePrefix, headObject, incompleteUploads } from "../../test/localstack/resources.ts";
import { S3Storage, type S3StorageOptions } from "./s3-storage.ts";
import { describeStorageContract, readAll, sha256 } from "../../test/helpers/storage-contract.ts";

const ls = inject("localstack");
if (!ls?.endpoint) throw new Error("the LocalStack globalSetup did not run (see vitest.config.ts): S3 tests cannot be skipped");

// The S3Client picks credentials from the environment (set by the globalSetup); repeat them so the file stands alone.
process.env.AWS_ACCESS_KEY_ID ??= CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY ??= CREDENTIALS.secretAccessKey;

const runPrefix = `test-runs/${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}/`;
let fixtureCount = 0;
const admin = adminS3(ls);

function makeStorage(prefix: string, extra?: Partial<S3StorageOptions>): S3Storage {
  return new S3Storage({ bucket: ls.bucket, prefix, region: ls.region, endpoint: ls.endpoint, ...extra });
}

afterAll(async () => {
  await deletePrefix(admin, ls.bucket, runPrefix);
  admin.destroy();
});

describeStorageContract("s3", async () => {
  const prefix = `${runPrefix}contract-${++fixtureCount}/`;
  const storage = makeStorage(prefix);
  return {
    storage,
    cleanup: async () => {
      await deletePrefix(admin, ls.bucket, prefix);
      storage.close();
    },
  };
});

/** `size` pseudo-random bytes streamed in uneven chunks, hashed as they are generated (never held whole). */
function generatedStream(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash("sha256");
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const chunk = randomBytes(Math.min(size - sent, 100_000 + (sent % 37_000)));
      hash.update(chunk);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest("hex") };
}

describe("s3: what only S3 does", () => {
  const prefix = `${runPrefix}s3/`;
  let s: S3Storage;
  beforeAll(() => {
    s = makeStorage(prefix);
  });
  afterAll(() => s.close());

  it("describes itself as an s3:// URL", () => {
    expect(s.description).toBe(`s3://${ls.bucket}/${prefix}`);
  });

  it("streams a ~20 MB upload in 8 MiB parts with SHA-256 part checksums, byte for byte", async () => {
    const size = 20 * 1024 * 1024 + 4321;
    const { stream, digest } = generatedStream(size);
    const info = await s.put("daily/multipart.tar.gz", stream);
    expect(info.size).toBe(size);
    const back = await readAll(await s.get("daily/multipart.tar.gz"));
    expect(back.length).toBe(size);
    expect(sha256(back)).toBe(digest());
    const head = await headObject(admin, ls.bucket, `${prefix}daily/multipart.tar.gz`);
    // A multipart ETag ends in "-<parts>"; ceil(20 MB / 8 MiB) = 3. The composite checksum proves S3 checked each part.
    expect(head.ETag).toMatch(/-3"$/);
    expect(head.ChecksumSHA256).toMatch(/-3$/);
    expect(info.version).toBe(head.ETag);
  });

  it("leaves no object and no incomplete multipart upload when the stream fails after a part was sent", async () => {
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= 12 * 1024 * 1024) return void this.destroy(new Error("source vanished"));
        sent += 1024 * 1024;
        this.push(randomBytes(1024 * 1024));
      },
    });
    await expect(s.put("daily/failed.tar.gz", failing)).rejects.toThrow("source vanished");
    expect(await s.stat("daily/failed.tar.gz")).toBeNull();
    expect(await incompleteUploads(admin, ls.bucket, prefix)).toEqual([]);
  });

  it("round-trips tags and reports a missing object", async () => {
    await s.put("tags/archive.tar.gz", "archive bytes");
    const tags = { sha256: sha256(Buffer.from("archive bytes")), "backup-type": "daily" };
    await s.setTags("tags/archive.tar.gz", tags);
    expect(await s.getTags("tags/archive.tar.gz")).toEqual(tags);
    await s.setTags("tags/archive.tar.gz", { verified: "true" });
    expect(await s.getTags("tags/archive.tar.gz")).toEqual({ verified: "true" });
    await expect(s.setTags("tags/missing", { a: "b" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.getTags("tags/missing")).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.setTags("tags/archive.tar.gz", { "bad<key>": "x" })).rejects.toMatchObject({ code: "validation_error" });
  });

  it("gives a presigned URL that plain fetch downloads byte for byte, and that expires", async () => {
    const data = randomBytes(300_000);
    await s.put("dl/archive.tar.gz", data);
    const url = await s.presignGet("dl/archive.tar.gz", 60);
    expect(url).toContain("X-Amz-Signature=");
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    await expect(s.presignGet("dl/archive.tar.gz", 0)).rejects.toMatchObject({ code: "validation_error" });
    expect((await fetch(await s.presignGet("dl/absent"))).status).toBe(404);
  });

  it("lets exactly one of 10 independent clients win createExclusive", async () => {
    const stores = Array.from({ length: 10 }, () => makeStorage(prefix));
    try {
      const results = await Promise.all(stores.map((st, i) => st.createExclusive("locks/race", `owner ${i}\n`.repeat(5000))));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners).toHaveLength(1);
      expect((await s.getBuffer("locks/race")).toString()).toBe(`owner ${winners[0]}\n`.repeat(5000));
    } finally {
      for (const st of stores) st.close();
    }
  });

  it("hides keys under the reserved temp/ segment from list", async () => {
    const raw = makeStorage(`${prefix}reserved/temp/`);
    try {
      await raw.put("leftover", "x");
    } finally {
      raw.close();
    }
    const scoped = makeStorage(`${prefix}reserved/`);
    try {
      await scoped.put("kept", "y");
      expect((await scoped.list("")).map((o) => o.key)).toEqual(["kept"]);
      expect(await scoped.usage()).toBe(1);
    } finally {
      scoped.close();
    }
  });
});
