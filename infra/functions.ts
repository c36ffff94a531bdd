// The Lambda functions (backup, worker, cleanup, notifier; the API's in infra/api.ts): handlers, environment, VPC and EFS, retries, destinations.
import { config } from "./config.ts";
import { efsPolicy } from "./efs-policy.ts";
import { functionEnvironments, type FunctionName } from "./environment.ts";
import { LAMBDA_RUNTIME } from "./native-build.ts";
import type { Network } from "./network.ts";
import { permissions } from "./permissions.ts";
import { EFS_LAMBDA_MEMORY_MB } from "./placement.ts";

export interface FunctionDeps {
  bucket: sst.aws.Bucket;
  bus: sst.aws.Bus;
  network: Network;
  email?: sst.aws.Email;
  /** The JobTask's role (infra/tasks.ts): the EFS policy lets it write through the access point, as the Worker. */
  jobTaskRoleArn?: $util.Output<string>;
}

/*
 * What the handlers (functions/*.ts, built by runtime/aws.ts) can rely on: their environment, exactly
 * functionEnvironments() in infra/environment.ts (test/aws-environment.test.ts loads core/config.ts from each
 * function's). No links: the bucket, prefix and bus reach them as BACKUP_BUCKET, BACKUP_S3_PREFIX and BACKUP_EVENT_BUS,
 * and the one link is the API's JwtSecret (infra/api.ts), which runtime/aws.ts reads (test/aws-links.test.ts).
 * Each function's IAM statements come from infra/permissions.ts.
 */
/** Each function's environment, from the deployed bucket, bus, mail configuration set and dashboard URL. */
export function environments({ bucket, bus, email, dashboardUrl }: Pick<FunctionDeps, "bucket" | "bus" | "email"> & { dashboardUrl?: $util.Input<string> }) {
  return functionEnvironments<$util.Input<string>>(config, {
    bucket: bucket.name,
    bus: bus.name,
    ...(dashboardUrl === undefined ? {} : { dashboardUrl }),
    ...(email ? { sesConfigurationSet: email.configSet } : {}),
  });
}

/** Settings every function shares; `environment` is that function's entry of environments(). */
export function baseArgs(environment: Record<string, $util.Input<string>>) {
  return {
    // The Node.js major `sst deploy` must run on too, or better-sqlite3 is installed for the wrong ABI (infra/native-build.ts).
    runtime: LAMBDA_RUNTIME,
    architecture: "x86_64",
    logging: { retention: "3 months", format: "json" },
    environment,
    nodejs: { sourcemap: true },
  } satisfies Partial<sst.aws.FunctionArgs>;
}

export function backgroundFunctions(deps: FunctionDeps) {
  const { bucket, bus, network, email } = deps;
  const env = environments(deps);
  const base = (name: FunctionName) => baseArgs(env[name]);
  const perms = permissions({ bucket, bus, efsArn: network.efsArn, email });

  // Only these two read or write CRM data, so only they sit in the VPC and mount EFS. They cannot reach
  // EventBridge from there (no NAT): their result (the lifecycle event, or the error) goes to the bus as a
  // Lambda destination record, which Lambda delivers from outside the VPC (infra/events.ts).
  const inVpc = (name: "ScheduledBackup" | "Worker", handler: string, statements: sst.aws.FunctionPermissionArgs[], retries: number) =>
    new sst.aws.Function(name, {
      ...base(name),
      handler,
      description: `colab-backup ${name} (EFS ${config.crm.mountPath})`,
      timeout: "15 minutes",
      // The limits model (infra/limits-model.ts) gives every job it keeps on Lambda this memory's vCPUs.
      memory: `${EFS_LAMBDA_MEMORY_MB} MB`,
      // The database snapshot and gzipped logs are staged here before they go into the archive.
      storage: "10 GB",
      vpc: network.functionVpc,
      // The access point, by ARN: the functions act as the CRM's user (infra/network.ts), never root.
      volume: { efs: network.accessPointArn, path: config.crm.mountPath },
      permissions: statements,
      // better-sqlite3 is native: not bundled, but installed into the bundle by SST with `npm install --platform=linux
      // --arch=x64`, for the ABI of the deployer's Node (sst.config.ts refuses a deployer whose Node is not LAMBDA_RUNTIME's).
      nodejs: { ...base(name).nodejs, install: ["better-sqlite3"] },
      retries,
      transform: {
        eventInvokeConfig: (args) => {
          args.destinationConfig = { onSuccess: { destination: bus.arn }, onFailure: { destination: bus.arn } };
        },
      },
    });

  // Scheduled backups are idempotent per slot (core: one backup per type and scheduled time), so one retry is safe;
  // a failed backup fails the invocation (core/scheduled.ts), so the retry runs it again and the Errors alarm fires.
  const backup = inVpc("ScheduledBackup", "functions/scheduled-backup.handler", perms.backup, 1);
  // backup/verify/export.requested; restores run as the JobTask (infra/placement.ts). No automatic retry: a failed job
  // is looked at by a person, and the next invocation first rolls back any restore a killed run left unfinished.
  const worker = inVpc("Worker", "functions/worker.handler", perms.worker, 0);

  const cleanup = new sst.aws.Function("Cleanup", {
    ...base("Cleanup"),
    handler: "functions/cleanup.handler",
    description: "colab-backup retention (S3 only, outside the VPC)",
    timeout: "5 minutes",
    memory: "512 MB",
    permissions: perms.cleanup,
    retries: 1,
  });

  const notifier = new sst.aws.Function("Notifier", {
    ...base("Notifier"),
    handler: "functions/notifier.handler",
    description: "colab-backup events to email (SES, outside the VPC)",
    timeout: "1 minute",
    memory: "256 MB",
    permissions: perms.notifier,
    retries: 2,
  });

  // Created here because it names the two roles: backup read-only, both through the CRM's access point, TLS, no root.
  new aws.efs.FileSystemPolicy("CrmFilesPolicy", {
    fileSystemId: network.efs.id,
    policy: $jsonStringify(
      efsPolicy({ fileSystemArn: network.efsArn, accessPointArn: network.accessPointArn, backupRoleArn: backup.nodes.role.arn, workerRoleArn: worker.nodes.role.arn, taskRoleArn: deps.jobTaskRoleArn }),
    ),
  });

  return { backup, worker, cleanup, notifier, inVpc: [backup, worker], perms };
}

