// The backup bucket: versioned, private, encrypted, no CORS, a policy that refuses overwrites of backup data, lifecycle rules for multipart leftovers, old versions, exports and cold monthly archives.
import { config } from "./config.ts";
import { bucketPolicy } from "./store-policy.ts";

export function backupBucket() {
  const monthlyPrefix = `${config.storePrefix}monthly/`;

  const bucket = new sst.aws.Bucket("Backups", {
    // A replaced or deleted object stays as a noncurrent version for `noncurrentDays`: an overwrite or a
    // delete by mistake (or by a compromised function) can be undone that long.
    versioning: true,
    // SST's lifecycle args can only expire objects; this placeholder makes SST create the lifecycle
    // resource, and `transform.lifecycle` below replaces its rules with the ones we need.
    lifecycle: [{ id: "abort-incomplete-multipart-uploads" }],
    // The dashboard downloads by navigating to a presigned URL, which needs no CORS; nothing else in a browser calls S3.
    // (SST's default would allow any origin to GET, PUT and DELETE.)
    cors: false,
    // Rules for every principal (infra/store-policy.ts): no overwrite of backup data; in production no version deletes.
    // SST adds the deny of plain-HTTP requests (enforceHttps, on by default).
    policy: bucketPolicy(config.storePrefix, { protectVersions: $app.stage === "production" }).map(({ sid: _sid, ...statement }) => statement),
    transform: {
      bucket: (args) => {
        // Never empty the production bucket on `sst remove` (production is also `removal: "retain"`).
        args.forceDestroy = $app.stage !== "production";
      },
      // Already SST's default for a bucket without `access`; spelled out because it is a requirement.
      publicAccessBlock: { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      lifecycle: (args) => {
        args.rules = [
          {
            // A failed or killed multipart upload leaves parts that are billed until aborted.
            id: "abort-incomplete-multipart-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
          {
            // Retention deletes only add delete markers in a versioned bucket; this frees the bytes later.
            id: "expire-noncurrent-versions",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: config.noncurrentDays },
            expiration: { expiredObjectDeleteMarker: true },
          },
          {
            // Download copies of v2 backups (core/export-object.ts): presigned for a minute, rewritten when older than 20 h.
            id: "expire-exports",
            status: "Enabled",
            filter: { prefix: `${config.storePrefix}exports/` },
            expiration: { days: 1 },
            // An export is a whole archive: its replaced or expired versions go after a day too (the shorter rule wins).
            noncurrentVersionExpiration: { noncurrentDays: 1 },
          },
          ...(config.monthlyColdAfterDays > 0
            ? [
                {
                  // Monthly archives are kept for a year and rarely read: Glacier Instant Retrieval still
                  // serves a GET (restore, verify, presigned download) in milliseconds. Objects under
                  // 128 KiB (the .json manifests) are not transitioned by S3.
                  id: "monthly-to-glacier-ir",
                  status: "Enabled",
                  filter: { prefix: monthlyPrefix },
                  transitions: [{ days: config.monthlyColdAfterDays, storageClass: "GLACIER_IR" }],
                },
              ]
            : []),
        ];
      },
    },
  });

  // Default encryption: SSE-S3, or SSE-KMS with a bucket key when BACKUP_KMS_KEY_ARN is set. The functions then
  // also get it as BACKUP_KMS_KEY_ID and name it on every put; without it they send no encryption header, so this
  // default applies (an explicit AES256 header would override an SSE-KMS default).
  new aws.s3.BucketServerSideEncryptionConfiguration("BackupsEncryption", {
    bucket: bucket.name,
    rules: [
      config.kmsKeyArn
        ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: config.kmsKeyArn }, bucketKeyEnabled: true }
        : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
    ],
  });

  return bucket;
}
