// The EFS file-system policy and the CRM owner the functions act as, as data (no SST import), so test/aws-efs-policy.test.ts checks them.

/** Ids EFS takes for an access point's POSIX user (0..2^32-2); 0 is root, which the functions must never be. */
const MAX_ID = 4294967294;

/** The CRM's user and group, from BACKUP_CRM_UID / BACKUP_CRM_GID (default 1000:1000), checked. */
export function readCrmOwner(env: (name: string) => string | undefined): { uid: number; gid: number } {
  const id = (name: string, fallback: string) => {
    const raw = env(name) ?? fallback;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_ID) {
      throw new Error(
        `read infra config: ${name} must be the numeric ${name.endsWith("UID") ? "user" : "group"} id that owns the CRM's files on the EFS ` +
          `(1..${MAX_ID}; root, 0, is refused because the file system policy denies root access); got "${raw}". ` +
          `Find it on the CRM host with: stat -c '%u %g' <CRM folder>`,
      );
    }
    return n;
  };
  return { uid: id("BACKUP_CRM_UID", "1000"), gid: id("BACKUP_CRM_GID", "1000") };
}

export interface EfsPolicyTargets<T = string> {
  fileSystemArn: T;
  /** The access point with the CRM's POSIX user that both functions mount. */
  accessPointArn: T;
  backupRoleArn: T;
  workerRoleArn: T;
  /** The JobTask's role (Fargate, infra/tasks.ts): runs restores, so it is treated as the worker. */
  taskRoleArn?: T;
}

/**
 * The file-system policy. Once a file system has one, EFS authorizes every NFS client by it:
 * - any client through a mount target may mount and write (the CRM host keeps working), but only over TLS;
 * - nobody gets ClientRootAccess (not granted, and denied to the functions), so root is squashed to nfsnobody;
 * - the backup function mounts read-only: ClientWrite is denied to its role;
 * - both functions must come through the CRM's access point, so they act as the CRM's user and restored files are its.
 */
export function efsPolicy<T>(t: EfsPolicyTargets<T>) {
  const writers = t.taskRoleArn === undefined ? [t.workerRoleArn] : [t.workerRoleArn, t.taskRoleArn];
  const roles = [t.backupRoleArn, ...writers];
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ClientsThroughMountTargets",
        Effect: "Allow",
        Principal: { AWS: "*" },
        Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        Resource: t.fileSystemArn,
        Condition: { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } },
      },
      { Sid: "TlsOnly", Effect: "Deny", Principal: { AWS: "*" }, Action: "*", Resource: t.fileSystemArn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
      { Sid: "BackupReadOnly", Effect: "Deny", Principal: { AWS: [t.backupRoleArn] }, Action: ["elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"], Resource: t.fileSystemArn },
      { Sid: "WorkerNoRoot", Effect: "Deny", Principal: { AWS: writers }, Action: ["elasticfilesystem:ClientRootAccess"], Resource: t.fileSystemArn },
      {
        Sid: "FunctionsOnlyThroughCrmAccessPoint",
        Effect: "Deny",
        Principal: { AWS: roles },
        Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        Resource: t.fileSystemArn,
        Condition: { StringNotEquals: { "elasticfilesystem:AccessPointArn": t.accessPointArn } },
      },
    ],
  };
}
