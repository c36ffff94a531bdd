// Server-side encryption of the S3 store on LocalStack: BACKUP_KMS_KEY_ID's key on every kind of put, else the bucket's own default.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { CreateBucketCommand, DeleteBucketCommand, PutBucketEncryptionCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CREDENTIALS } from "../../test/localstack/config.ts";
import { adminS3, deletePrefix, headObject } from "../../test/localstack/resources.ts";
import { PART_SIZE, S3Storage } from "./s3-storage.ts";

const ls = inject("localstack");
if (!ls?.endpoint) throw new Error("the LocalStack globalSetup did not run (see vitest.config.ts): S3 tests cannot be skipped");
process.env.AWS_ACCESS_KEY_ID ??= CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY ??= CREDENTIALS.secretAccessKey;

/*
 * LocalStack runs here without its KMS service, so S3 records the key it is given without checking that the key
 * exists or that the caller may use it: these tests prove which headers the store sends and that S3 applies the
 * bucket default when none is sent, not KMS itself (a real account's checklist is in infra/README.md).
 */
const admin = adminS3(ls);
const bucket = `colab-backup-sse-${randomBytes(4).toString("hex")}`;
const kmsKey = (n: number) => `arn:aws:kms:${ls.region}:000000000000:key/${String(n).repeat(8)}-1111-2222-3333-444444444444`;
const BUCKET_KEY = kmsKey(1);
const STORE_KEY = kmsKey(2);

const store = (kmsKeyId?: string) => new S3Storage({ bucket, prefix: "backups/", region: ls.region, endpoint: ls.endpoint, kmsKeyId });

/** A single put, a conditional create and a multipart upload (lib-storage) through `s`; the encryption each object got. */
async function putEveryWay(s: S3Storage, dir: string) {
  await s.put(`${dir}/small.json`, "{}");
  expect(await s.createExclusive(`${dir}/locks/lock.json`, "{}")).toBe(true);
  const big = randomBytes(PART_SIZE + 1024);
  await s.put(`${dir}/big.tar.gz`, Readable.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]));
  const heads = await Promise.all(["small.json", "locks/lock.json", "big.tar.gz"].map((k) => headObject(admin, bucket, `backups/${dir}/${k}`)));
  return heads.map((h) => ({ sse: h.ServerSideEncryption, key: h.SSEKMSKeyId }));
}

beforeAll(async () => {
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  // As infra/storage.ts configures the bucket when BACKUP_KMS_KEY_ARN is set.
  await admin.send(
    new PutBucketEncryptionCommand({
      Bucket: bucket,
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: BUCKET_KEY }, BucketKeyEnabled: true }] },
    }),
  );
});

afterAll(async () => {
  await deletePrefix(admin, bucket, "");
  await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
  admin.destroy();
});

describe("s3 store encryption", () => {
  it("without a KMS key sends no encryption header, so every object gets the bucket's default (here SSE-KMS), multipart included", async () => {
    const s = store();
    try {
      expect(await putEveryWay(s, "default")).toEqual(Array(3).fill({ sse: "aws:kms", key: BUCKET_KEY }));
    } finally {
      s.close();
    }
  });

  it("with BACKUP_KMS_KEY_ID's key encrypts every put with SSE-KMS and that key, multipart included", async () => {
    const s = store(STORE_KEY);
    try {
      expect(await putEveryWay(s, "kms")).toEqual(Array(3).fill({ sse: "aws:kms", key: STORE_KEY }));
    } finally {
      s.close();
    }
  });
});
