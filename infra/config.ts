// Deploy-time settings: the runtime's variables (schedules, TZ, retention, mail) plus the AWS-only ones, read once from the deployer's environment.
import { toEventBridgeCron, type EventBridgeCron } from "../core/eventbridge-cron.ts";
import { readCrmOwner } from "./efs-policy.ts";

/*
 * `sst deploy` runs sst.config.ts on the deployer's machine and loads `.env` (and `.env.<stage>`) into
 * process.env first, so these are the same variables the local runtime reads (README "Configuration").
 * Defaults match core/config.ts; core/eventbridge-cron.test.ts translates core's defaults, so a change
 * there that EventBridge cannot express fails the tests. Secrets are not read here: see infra/secrets.ts.
 */

type Env = Record<string, string | undefined>;

const TRUE = ["true", "1", "yes", "on"];
/** A CloudWatch alarm may look back at most 7 days with hourly periods (PutMetricAlarm: Period x EvaluationPeriods <= 604800 s). */
export const MAX_HEALTH_HOURS = 168;
const KMS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/;

/** The bare address from "Name <addr@example.com>" or "addr@example.com". */
const address = (v: string | undefined) => v?.split(",")[0]?.trim().replace(/^.*<(.+)>$/, "$1");

/** Reads and checks the deploy-time variables from `source` (process.env under `sst deploy`; any record in tests). */
export function readInfraConfig(source: Env) {
  const env = (name: string): string | undefined => {
    const v = source[name]?.trim();
    return v ? v : undefined;
  };
  const list = (name: string): string[] | undefined =>
    env(name)
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const timeZone = env("TZ") ?? "UTC";
  const schedule = (name: string, fallback: string): EventBridgeCron & { unix: string } => {
    const unix = env(name) ?? fallback;
    return { unix, ...toEventBridgeCron(unix, timeZone, { name }) };
  };

  const config = {
    timeZone,
    /** Unix cron for the runtime (status "next runs") and EventBridge cron + zone for Scheduler, from the same variables. */
    schedules: {
      daily: schedule("BACKUP_DAILY_SCHEDULE", "0 2 * * *"),
      weekly: schedule("BACKUP_WEEKLY_SCHEDULE", "0 1 * * 0"),
      monthly: schedule("BACKUP_MONTHLY_SCHEDULE", "0 0 1 * *"),
      cleanup: schedule("BACKUP_CLEANUP_SCHEDULE", "0 3 * * *"),
    },
    /** Passed through to the functions unchanged; core/config.ts validates them at cold start. */
    runtimeEnv: Object.fromEntries(
      [
        "BACKUP_RETENTION_DAILY",
        "BACKUP_RETENTION_WEEKLY",
        "BACKUP_RETENTION_MONTHLY",
        "BACKUP_EMAIL_ENABLED",
        "BACKUP_EMAIL_FROM",
        "BACKUP_EMAIL_TO",
        "BACKUP_DB_BUSY_TIMEOUT_MS",
        "BACKUP_HEALTH_MAX_AGE_HOURS",
        "JWKS_URL",
      ].flatMap((name) => {
        const v = env(name);
        return v === undefined ? [] : [[name, v]];
      }),
    ) as Record<string, string>,
    email: {
      /** The SES identity: BACKUP_SES_IDENTITY (a domain or an address), else BACKUP_EMAIL_FROM's address. */
      identity: env("BACKUP_SES_IDENTITY") ?? address(env("BACKUP_EMAIL_FROM")),
      /** The bare sender address, if known: IAM only lets the functions send from it. */
      fromAddress: address(env("BACKUP_EMAIL_FROM")),
      /** Route 53 hosted zone id for a domain identity's DKIM records; unset: add the records by hand. */
      route53Zone: env("BACKUP_SES_ROUTE53_ZONE"),
      /** Alarm recipients (SNS email subscriptions): BACKUP_ALARM_EMAIL, else BACKUP_EMAIL_TO. */
      alarmTo: list("BACKUP_ALARM_EMAIL") ?? list("BACKUP_EMAIL_TO") ?? [],
    },
    /** Where the CRM's files are: the CRM app folder relative to the EFS root (e.g. "srv/colab-crm"; "" = the root). */
    crm: {
      mountPath: "/mnt/crm",
      subdir: (env("BACKUP_EFS_CRM_DIR") ?? "").replace(/^\/+|\/+$/g, ""),
      /** The CRM's user and group: the EFS access point's POSIX user, so the functions act as it (infra/efs-policy.ts). */
      owner: readCrmOwner(env),
    },
    /** An existing EFS (the CRM's) by id; unset: infra creates one. */
    efsId: env("BACKUP_EFS_ID"),
    /**
     * An existing VPC (the CRM's) for the functions that mount EFS; required with BACKUP_EFS_ID. The subnets must
     * reach the EFS mount targets, and the security groups must be allowed in on NFS (TCP 2049). Unset: a new VPC.
     */
    network: {
      vpcId: env("BACKUP_VPC_ID"),
      subnetIds: list("BACKUP_SUBNET_IDS"),
      securityGroupIds: list("BACKUP_SECURITY_GROUP_IDS"),
      /** "existing": the VPC already has an S3 gateway endpoint on those subnets' route tables; do not add one. */
      s3Endpoint: env("BACKUP_S3_ENDPOINT") === "existing" ? ("existing" as const) : ("create" as const),
      /** Subnets for the JobTask (Fargate) in that VPC; default BACKUP_SUBNET_IDS. They must reach ECR, CloudWatch Logs and EventBridge. */
      taskSubnetIds: list("BACKUP_TASK_SUBNET_IDS"),
    },
    /**
     * SSE-KMS key for the bucket's default encryption, and the functions' BACKUP_KMS_KEY_ID (the store then names it on
     * every put); unset: SSE-S3 (AES256) by bucket default. BACKUP_KMS_KEY_ID (the runtime's name) is accepted too.
     */
    kmsKeyArn: env("BACKUP_KMS_KEY_ARN") ?? env("BACKUP_KMS_KEY_ID"),
    /** The health window: the "no successful scheduled backup" alarm looks back this many hours (core's default 26). */
    healthMaxAgeHours: Number(env("BACKUP_HEALTH_MAX_AGE_HOURS") ?? "26"),
    /**
     * The EfsBurstCreditsLow alarm's line: the CRM's EFS holds fewer burst credits than this (GiB). The default covers
     * a week of the reference CRM's backups and one restore (~10 GiB, README "Is Bursting enough?") five times over;
     * raise it for a larger CRM.
     */
    efsCreditAlarmGiB: Number(env("BACKUP_EFS_CREDIT_ALARM_GIB") ?? "50"),
    /** Whether the notifier mails anything (core/config.ts's BACKUP_EMAIL_ENABLED). */
    emailEnabled: TRUE.includes((env("BACKUP_EMAIL_ENABLED") ?? "").toLowerCase()),
    /** Days before monthly archives move to Glacier Instant Retrieval; 0 turns the transition off. */
    monthlyColdAfterDays: Number(env("BACKUP_MONTHLY_GLACIER_IR_DAYS") ?? "30"),
    /** Days a replaced or deleted object version is kept (the bucket is versioned) before S3 expires it. */
    noncurrentDays: Number(env("BACKUP_NONCURRENT_VERSION_DAYS") ?? "30"),
    /** Key prefix of the store inside the bucket (core's S3 storage `prefix`); the layout below it is in infra/store-policy.ts. */
    storePrefix: "backups/",
  };

  check(config, env);
  return config;
}

export type InfraConfig = ReturnType<typeof readInfraConfig>;

/** The stage's settings, from the deployer's environment. */
export const config: InfraConfig = readInfraConfig(process.env);

interface Checked {
  network: { vpcId?: string; subnetIds?: string[]; securityGroupIds?: string[] };
  efsId?: string;
  monthlyColdAfterDays: number;
  noncurrentDays: number;
  healthMaxAgeHours: number;
  efsCreditAlarmGiB: number;
  kmsKeyArn?: string;
  emailEnabled: boolean;
  email: { identity?: string };
}

/** Refuses settings that would deploy a stack that cannot work, naming the variable and the fix. */
function check(config: Checked, env: (name: string) => string | undefined) {
  const { network, monthlyColdAfterDays, noncurrentDays, healthMaxAgeHours, kmsKeyArn } = config;
  const existingNetwork = [network.vpcId, network.subnetIds, network.securityGroupIds];
  if (config.efsId && existingNetwork.some((v) => v === undefined)) {
    throw new Error(
      "read infra config: BACKUP_EFS_ID is set, so the functions must run in that file system's VPC; " +
        "set BACKUP_VPC_ID, BACKUP_SUBNET_IDS (subnets with EFS mount targets) and BACKUP_SECURITY_GROUP_IDS (allowed on NFS 2049)",
    );
  }
  if (existingNetwork.some((v) => v !== undefined) && existingNetwork.some((v) => v === undefined)) {
    throw new Error("read infra config: BACKUP_VPC_ID, BACKUP_SUBNET_IDS and BACKUP_SECURITY_GROUP_IDS go together (ids, comma-separated for lists)");
  }
  for (const [name, v, min] of [
    ["BACKUP_MONTHLY_GLACIER_IR_DAYS", monthlyColdAfterDays, 0],
    ["BACKUP_NONCURRENT_VERSION_DAYS", noncurrentDays, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`read infra config: ${name} must be a whole number of days (at least ${min}); got "${env(name)}"`);
  }
  if (!Number.isInteger(healthMaxAgeHours) || healthMaxAgeHours < 1 || healthMaxAgeHours > MAX_HEALTH_HOURS) {
    throw new Error(
      `read infra config: BACKUP_HEALTH_MAX_AGE_HOURS must be a whole number of hours from 1 to ${MAX_HEALTH_HOURS} ` +
        `(the longest window a CloudWatch alarm can watch); got "${env("BACKUP_HEALTH_MAX_AGE_HOURS")}"`,
    );
  }
  // A file system starts with 2.1 TiB of credits and can hold no more than that.
  if (!Number.isFinite(config.efsCreditAlarmGiB) || config.efsCreditAlarmGiB <= 0 || config.efsCreditAlarmGiB > 2150) {
    throw new Error(
      `read infra config: BACKUP_EFS_CREDIT_ALARM_GIB must be a number of GiB above 0 and at most 2150 (an EFS holds at most ` +
        `2.1 TiB of burst credits); got "${env("BACKUP_EFS_CREDIT_ALARM_GIB")}"`,
    );
  }
  const keyArn = env("BACKUP_KMS_KEY_ARN");
  const keyId = env("BACKUP_KMS_KEY_ID");
  if (keyArn && keyId && keyArn !== keyId) {
    throw new Error(`read infra config: BACKUP_KMS_KEY_ARN ("${keyArn}") and BACKUP_KMS_KEY_ID ("${keyId}") name different keys; set only BACKUP_KMS_KEY_ARN`);
  }
  if (kmsKeyArn && !KMS_ARN.test(kmsKeyArn)) {
    throw new Error(
      `read infra config: BACKUP_KMS_KEY_ARN must be a KMS key ARN such as arn:aws:kms:eu-central-1:123456789012:key/<uuid> ` +
        `(the bucket policy and IAM need the ARN, not an id or alias name); got "${kmsKeyArn}"`,
    );
  }
  if (config.emailEnabled && !config.email.identity) {
    throw new Error(
      "read infra config: BACKUP_EMAIL_ENABLED is true but no SES identity is known, so no mail could be sent on AWS; " +
        "set BACKUP_EMAIL_FROM (or BACKUP_SES_IDENTITY, a domain or address you own)",
    );
  }
}
