// Least-privilege IAM statements per function: who may read, write or delete which store keys, publish events, send mail, mount EFS.
import { config } from "./config.ts";
import { DELETE_KEYS, PUT_KEYS, STORE_KEYS, type Role } from "./store-policy.ts";

type Statement = sst.aws.FunctionPermissionArgs;

export interface Targets {
  bucket: sst.aws.Bucket;
  bus: sst.aws.Bus;
  efsArn: $util.Output<string>;
  email?: sst.aws.Email;
}

/*
 * Which store keys each role may write and delete is data in infra/store-policy.ts (PUT_KEYS, DELETE_KEYS), tested in
 * test/aws-store-policy.test.ts; the bucket policy there refuses every overwrite of backup data, whoever asks.
 * Nobody may delete object versions: only the lifecycle rule expires them, so any delete can be undone for
 * BACKUP_NONCURRENT_VERSION_DAYS.
 */
export function permissions({ bucket, bus, efsArn, email }: Targets) {
  const keys = (paths: readonly string[]) => paths.map((p) => $interpolate`${bucket.arn}/${config.storePrefix}${p}`);
  const kms: Statement[] = config.kmsKeyArn ? [{ actions: ["kms:GenerateDataKey", "kms:Decrypt"], resources: [config.kmsKeyArn] }] : [];
  const neverDestroyVersions: Statement = {
    effect: "deny",
    actions: ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
    resources: [bucket.arn, $interpolate`${bucket.arn}/*`],
  };

  const readStore: Statement[] = [
    {
      actions: ["s3:ListBucket"],
      resources: [bucket.arn],
      conditions: [{ test: "StringLike", variable: "s3:prefix", values: [`${config.storePrefix}*`] }],
    },
    // HeadObject and presigned GETs need s3:GetObject too.
    { actions: ["s3:GetObject", "s3:GetObjectTagging"], resources: keys(["*"]) },
    ...kms,
    neverDestroyVersions,
  ];
  /** PutObject covers multipart create/upload/complete and conditional (If-None-Match) creates; tags go on what it writes. */
  const store = (role: Role): Statement[] => [
    ...readStore,
    { actions: ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], resources: keys(PUT_KEYS[role]) },
    ...(DELETE_KEYS[role].length ? [{ actions: ["s3:DeleteObject"], resources: keys(DELETE_KEYS[role]) }] : []),
  ];
  // Explicit, so that no later broad grant can give the backup functions delete on backups.
  const denyBackupDeletes: Statement = { effect: "deny", actions: ["s3:DeleteObject"], resources: keys([...STORE_KEYS.backups, ...STORE_KEYS.data]) };

  const publish: Statement = { actions: ["events:PutEvents"], resources: [bus.arn] };

  const sendMail: Statement[] = email
    ? [
        {
          actions: ["ses:SendEmail", "ses:SendRawEmail"],
          // The identity and configuration set, and recipient identities (needed while the account is in the sandbox).
          resources: [
            email.nodes.identity.arn,
            email.nodes.configurationSet.arn,
            $interpolate`arn:${partition()}:ses:${region()}:${account()}:identity/*`,
          ],
          // Only mail from BACKUP_EMAIL_FROM's address, when it is known.
          conditions: config.email.fromAddress
            ? [{ test: "StringEquals", variable: "ses:FromAddress", values: [config.email.fromAddress] }]
            : undefined,
        },
      ]
    : [];

  const mountRead: Statement = { actions: ["elasticfilesystem:ClientMount"], resources: [efsArn] };
  const mountWrite: Statement = { actions: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"], resources: [efsArn] };

  return {
    /**
     * Scheduled backups: read the CRM (EFS, read-only by the file system policy), write archives, never delete one.
     * Lambda delivers its destination records with this role, hence PutEvents. The partial archive of an interrupted
     * run (one with a pending/ marker) cannot be deleted here: the backup path tries, keeps the marker when denied,
     * and cleanup removes both.
     */
    backup: [...store("backup"), denyBackupDeletes, mountRead, publish],
    /** backup/restore/verify/export.requested: writes the CRM back on restore, so it may write to EFS. */
    worker: [...store("worker"), denyBackupDeletes, mountWrite, publish],
    /** Retention: deletes backups (delete markers; versions expire by lifecycle). */
    cleanup: [...store("cleanup"), publish],
    /** The API: read, presign, record jobs, publish requests, delete one backup (audited, recoverable); the test-email route sends mail. */
    api: [...store("api"), publish, ...sendMail],
    /** Events to email; its last send result goes to the store, where the API's status reads it. */
    notifier: [...sendMail, { actions: ["s3:PutObject"], resources: keys(PUT_KEYS.notifier) }, ...kms],
  };
}

const partition = () => aws.getPartitionOutput().partition;
const region = () => aws.getRegionOutput().region;
const account = () => aws.getCallerIdentityOutput().accountId;
