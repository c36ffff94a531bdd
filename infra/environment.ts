// Each Lambda function's environment exactly as infra/ passes it: a pure mapping (no SST import) from the deploy config and the deployed names, so tests load core's config from it.
import type { InfraConfig } from "./config.ts";

/** The functions infra/ creates, by their SST names (ApiHandler is "Api" here). */
export const FUNCTION_NAMES = ["ScheduledBackup", "Worker", "Cleanup", "Notifier", "Api"] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** They mount the CRM's EFS inside the VPC, so they get CRM_ROOT and no BACKUP_EVENT_BUS (no route to EventBridge). */
export const IN_VPC: readonly FunctionName[] = ["ScheduledBackup", "Worker"];

/** Where the EFS functions see the CRM's files (config.crm.mountPath; sst.aws.Function `volume.path`). */
export const crmRoot = (crm: InfraConfig["crm"]) => (crm.subdir ? `${crm.mountPath}/${crm.subdir}` : crm.mountPath);

/**
 * Names known only once deployed: SST Outputs in infra/, plain strings in tests. `sesConfigurationSet` is set
 * when the stage has mail (infra/email.ts); `dashboardUrl` is the StaticSite's URL, the API's CORS origin (only the
 * API's entry uses it: infra/api.ts passes it, the background functions are built before the site exists).
 */
export interface Deployed<T> {
  bucket: T;
  bus: T;
  dashboardUrl?: T;
  sesConfigurationSet?: T;
}

/**
 * What Lambda itself puts in every function's environment (not infra/): the region, the role's temporary
 * credentials and the function's name. A test that runs a handler adds these, as Lambda would.
 */
export const SET_BY_LAMBDA = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME"] as const;

type Settings = Pick<InfraConfig, "runtimeEnv" | "timeZone" | "schedules" | "storePrefix" | "kmsKeyArn" | "crm">;

/** Every variable each function gets from infra/ (infra/functions.ts and infra/api.ts pass exactly these). */
export function functionEnvironments<T>(config: Settings, deployed: Deployed<T>): Record<FunctionName, Record<string, string | T>> {
  const { schedules } = config;
  const base: Record<string, string | T> = {
    ...config.runtimeEnv,
    TZ: config.timeZone,
    BACKUP_DAILY_SCHEDULE: schedules.daily.unix,
    BACKUP_WEEKLY_SCHEDULE: schedules.weekly.unix,
    BACKUP_MONTHLY_SCHEDULE: schedules.monthly.unix,
    BACKUP_CLEANUP_SCHEDULE: schedules.cleanup.unix,
    BACKUP_STORAGE: "s3",
    BACKUP_BUCKET: deployed.bucket,
    BACKUP_S3_PREFIX: config.storePrefix,
    // Without it the store sends no encryption header and the bucket's default applies (infra/storage.ts sets the
    // same key there); with it, every put names the key, so a changed bucket default cannot weaken it.
    ...(config.kmsKeyArn ? { BACKUP_KMS_KEY_ID: config.kmsKeyArn } : {}),
    // SES is the only transport on AWS: the runtime's default (outbox) would write .eml files into /tmp and report "sent".
    BACKUP_EMAIL_TRANSPORT: "ses",
    // The store is S3; this only holds work files (the database snapshot, gzipped logs) on /tmp.
    BACKUP_DIR: "/tmp/colab-backup",
    NODE_OPTIONS: "--enable-source-maps",
  };
  const inVpc = { ...base, CRM_ROOT: crmRoot(config.crm) };
  type Env = Record<string, string | T>;
  const bus: Env = { BACKUP_EVENT_BUS: deployed.bus };
  const mail: Env = deployed.sesConfigurationSet === undefined ? {} : { BACKUP_SES_CONFIGURATION_SET: deployed.sesConfigurationSet };
  const origin: Env = deployed.dashboardUrl === undefined ? {} : { DASHBOARD_ORIGIN: deployed.dashboardUrl };
  return {
    ScheduledBackup: inVpc,
    Worker: inVpc,
    Cleanup: { ...base, ...bus },
    Notifier: { ...base, ...mail },
    Api: { ...base, ...bus, ...mail, ...origin },
  };
}

/**
 * The JobTask's environment (infra/tasks.ts, Fargate): the Worker's, since it runs the Worker's jobs on the same EFS
 * and store, plus the bus. The task runs in a public subnet with a public IP (no NAT), so unlike the Worker it reaches
 * EventBridge itself and publishes the job's lifecycle event; there is no Lambda destination for a task. ECS adds
 * AWS_REGION and the task role's credentials; the bus rule adds JOB_ID and JOB_EVENT_TYPE per run (infra/placement.ts).
 */
export function taskEnvironment<T>(config: Settings, deployed: Deployed<T>): Record<string, string | T> {
  return { ...functionEnvironments(config, deployed).Worker, BACKUP_EVENT_BUS: deployed.bus };
}
