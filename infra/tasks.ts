// The JobTask: Fargate for the jobs that cannot hold 2x Lambda's 15 minutes (infra/placement.ts), with the CRM's EFS access point, the Worker's environment and rights, started by a bus rule.
import { config } from "./config.ts";
import { taskEnvironment } from "./environment.ts";
import type { Network } from "./network.ts";
import { permissions } from "./permissions.ts";
import { TASK_CONTAINER, TASK_INPUT, workPatterns } from "./placement.ts";

export interface TaskDeps {
  bucket: sst.aws.Bucket;
  bus: sst.aws.Bus;
  network: Network;
  email?: sst.aws.Email;
}

/**
 * One container, built from functions/task.Dockerfile at deploy (Docker needed on the deployer's machine), runs
 * `node --import tsx functions/task.ts`: one job, then exit. 2 vCPU / 4 GB: the limits model's restore of the reference
 * CRM takes ~17 min there, bound by NFS latency rather than CPU, and Fargate has no time limit.
 */
export function jobTask({ bucket, bus, network, email }: TaskDeps) {
  const cluster = new sst.aws.Cluster("Jobs", { vpc: network.clusterVpc });
  const perms = permissions({ bucket, bus, efsArn: network.efsArn, email });

  const task = new sst.aws.Task(TASK_CONTAINER, {
    cluster,
    architecture: "x86_64",
    cpu: "2 vCPU",
    memory: "4 GB",
    // The database snapshot is staged on local disk (BACKUP_DIR); Fargate's minimum of 20 GB holds the reference's 1 GB.
    storage: "20 GB",
    // better-sqlite3 is compiled inside the image for its own Node, whatever Node the deployer runs.
    image: { context: ".", dockerfile: "functions/task.Dockerfile" },
    environment: taskEnvironment<$util.Input<string>>(config, { bucket: bucket.name, bus: bus.name }) as Record<string, $util.Input<string>>,
    // The Worker's rights: same store keys, EFS write through the access point, publish its result to the bus.
    permissions: perms.worker,
    volumes: [{ efs: { fileSystem: network.efs.id, accessPoint: network.accessPointId }, path: config.crm.mountPath }],
    logging: { retention: "3 months" },
    dev: false,
    transform: {
      // SST mounts with TLS and the access point but without IAM authorization; the EFS policy (infra/efs-policy.ts)
      // only lets named roles write, so the task must present its role.
      taskDefinition: (args) => {
        args.volumes = $output(args.volumes ?? []).apply((volumes) =>
          volumes.map((v) => ({
            ...v,
            efsVolumeConfiguration: v.efsVolumeConfiguration && {
              ...v.efsVolumeConfiguration,
              authorizationConfig: { ...v.efsVolumeConfiguration.authorizationConfig, iam: "ENABLED" },
            },
          })),
        );
      },
    },
  });

  // The bus rule: the requested jobs placed on the task start it, with the job's id in its environment.
  const rule = new aws.cloudwatch.EventRule("RunJobTask", {
    eventBusName: bus.name,
    description: "colab-backup: requested jobs that run on Fargate (infra/placement.ts)",
    eventPattern: JSON.stringify(workPatterns().task),
  });
  const role = new aws.iam.Role("RunJobTaskRole", {
    assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "events.amazonaws.com" }),
    inlinePolicies: [
      {
        name: "run-job-task",
        policy: $jsonStringify({
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Action: "ecs:RunTask", Resource: task.taskDefinition, Condition: { ArnEquals: { "ecs:cluster": task.cluster } } },
            { Effect: "Allow", Action: "iam:PassRole", Resource: [task.nodes.taskRole.arn, task.nodes.executionRole.arn] },
          ],
        }),
      },
    ],
  });
  new aws.cloudwatch.EventTarget("RunJobTaskTarget", {
    rule: rule.name,
    eventBusName: bus.name,
    arn: task.cluster,
    roleArn: role.arn,
    ecsTarget: {
      taskDefinitionArn: task.taskDefinition,
      taskCount: 1,
      launchType: "FARGATE",
      networkConfiguration: { subnets: task.subnets, securityGroups: task.securityGroups, assignPublicIp: task.assignPublicIp },
    },
    inputTransformer: { inputPaths: { ...TASK_INPUT.inputPaths }, inputTemplate: TASK_INPUT.inputTemplate },
    // A RunTask that fails (capacity, throttling) is retried for 10 minutes, inside the queued job's deadline
    // (core/jobs/deadline.ts, 17 min): past it the job reads as failed, and a late task would find it taken.
    retryPolicy: { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 600 },
  });

  return { cluster, task };
}
