// Least-privilege IAM statements per function: who may read, write or delete which store keys, publish events, send mail, mount EFS.
import { BACKUP_TYPES } from "../core/manifest.ts";
import { config } from "./config.ts";

type Statement = sst.aws.FunctionPermissionArgs;

export interface Targets {
  bucket: sst.aws.Bucket;
  bus: sst.aws.Bus;
  efsArn: $util.Output<string>;
  email?: sst.aws.Email;
}

/*
 * Store keys (core/ids.ts, core/jobs/records.ts) under config.storePrefix: <type>/<id>.tar.gz|.json for the backups,
 * plus audit/, jobs/, locks/, slots/ and pending/ (a running backup's marker). A backup is its manifest and archive; "cannot delete backups" means
 * no s3:DeleteObject on the <type>/ prefixes. Nobody may delete object versions: only the lifecycle rule
 * expires them, so even a delete by cleanup can be undone for BACKUP_NONCURRENT_VERSION_DAYS.
 */
export function permissions({ bucket, bus, efsArn, email }: Targets) {
  const keys = (...paths: string[]) => paths.map((p) => $interpolate`${bucket.arn}/${config.storePrefix}${p}`);
  const backupKeys = keys(...BACKUP_TYPES.map((t) => `${t}/*`));
  const kms: Statement[] = config.kmsKeyArn ? [{ actions: ["kms:GenerateDataKey", "kms:Decrypt"], resources: [config.kmsKeyArn] }] : [];
  const neverDestroyVersions: Statement = { effect: "deny", actions: ["s3:DeleteObjectVersion"], resources: [$interpolate`${bucket.arn}/*`] };

  const readStore: Statement[] = [
    {
      actions: ["s3:ListBucket"],
      resources: [bucket.arn],
      conditions: [{ test: "StringLike", variable: "s3:prefix", values: [`${config.storePrefix}*`] }],
    },
    // HeadObject and presigned GETs need s3:GetObject too.
    { actions: ["s3:GetObject", "s3:GetObjectTagging"], resources: keys("*") },
    ...kms,
    neverDestroyVersions,
  ];
  const writeStore: Statement[] = [
    ...readStore,
    // PutObject covers multipart create/upload/complete and conditional (If-None-Match) creates.
    { actions: ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], resources: keys("*") },
    // Releasing the store lock, freeing a failed run's slot and clearing a finished run's pending marker are deletes
    // of bookkeeping keys, not of backups.
    { actions: ["s3:DeleteObject"], resources: keys("locks/*", "slots/*", "pending/*") },
  ];
  // Explicit, so that no later broad grant can give the backup functions delete on backups.
  const denyBackupDeletes: Statement = { effect: "deny", actions: ["s3:DeleteObject"], resources: backupKeys };

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
     * Scheduled backups: read the CRM (EFS, read-only where the file system enforces IAM), write archives,
     * never delete one. Lambda delivers its destination records with this role, hence PutEvents.
     * The partial archive of an interrupted run (one with a pending/ marker) cannot be deleted here: the backup
     * path tries, keeps the marker when denied, and cleanup removes both.
     */
    backup: [...writeStore, denyBackupDeletes, mountRead, publish],
    /** backup.requested / restore.requested: writes the CRM back on restore, so it may write to EFS. */
    worker: [...writeStore, denyBackupDeletes, mountWrite, publish],
    /** Retention: the only function that deletes backups (delete markers; versions expire by lifecycle). */
    cleanup: [...writeStore, { actions: ["s3:DeleteObject"], resources: keys("*") }, publish],
    /** The API: read, presign, record jobs, publish requests; the test-email route sends mail. */
    // Admins delete single backups and run cleanup from the dashboard, so the API may delete what cleanup may.
    api: [...readStore, { actions: ["s3:PutObject"], resources: keys("jobs/*", "audit/*", "locks/*") }, { actions: ["s3:DeleteObject"], resources: keys("*") }, publish, ...sendMail],
    /** Events to email; needs nothing from the store. */
    // Its last send result goes to the store, where the API's status reads it.
    notifier: [...sendMail, { actions: ["s3:PutObject"], resources: keys("status/*") }],
  };
}

const partition = () => aws.getPartitionOutput().partition;
const region = () => aws.getRegionOutput().region;
const account = () => aws.getCallerIdentityOutput().accountId;
