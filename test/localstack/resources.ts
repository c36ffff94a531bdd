// The AWS resources the suites expect in LocalStack (created idempotently by the globalSetup), plus admin helpers tests use to check S3 from outside the code under test.
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
  paginateListObjectsV2,
  type HeadObjectCommandOutput,
} from "@aws-sdk/client-s3";
import { CREDENTIALS, type LocalStackContext } from "./config.ts";

export function adminS3(ctx: Pick<LocalStackContext, "endpoint" | "region">): S3Client {
  return new S3Client({
    region: ctx.region,
    endpoint: ctx.endpoint,
    forcePathStyle: true,
    credentials: CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** One step per resource; each must be idempotent because a reused LocalStack may already have it. */
type Provision = (ctx: LocalStackContext) => Promise<void>;

const provisionBucket: Provision = async (ctx) => {
  const s3 = adminS3(ctx);
  try {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: ctx.bucket }));
    } catch (err) {
      if ((err as Error).name !== "BucketAlreadyOwnedByYou") throw err;
    }
    // As on AWS (see DESIGN.md): incomplete multipart uploads are aborted by a lifecycle rule too.
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: ctx.bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: "abort-incomplete-multipart-uploads",
              Status: "Enabled",
              Filter: { Prefix: "" },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
          ],
        },
      }),
    );
  } finally {
    s3.destroy();
  }
};

/** Add the event bus, queues and SES identities here as suites start to need them. */
const PROVISIONS: Provision[] = [provisionBucket];

export async function provisionResources(ctx: LocalStackContext): Promise<void> {
  for (const step of PROVISIONS) await step(ctx);
}

/** Multipart uploads still open under `prefix` (each one is billed until aborted). */
export async function incompleteUploads(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (out.Uploads ?? []).map((u) => `${u.Key} (${u.UploadId})`);
}

export async function headObject(s3: S3Client, bucket: string, key: string): Promise<HeadObjectCommandOutput> {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
}

/** Removes every object under `prefix` (test cleanup). */
export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    const objects = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (objects.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
  }
}
