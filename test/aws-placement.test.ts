// Where each job runs on AWS: the dispatch rule agrees with the limits model on the latest bench results, the bus patterns split the work, the JobTask gets the Worker's environment and EFS rights.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../core/config.ts";
import { WORKER_PATTERN, matches } from "../core/events/patterns.ts";
import { EVENT_SOURCE } from "../core/events/schema.ts";
import { readInfraConfig } from "../infra/config.ts";
import { efsPolicy } from "../infra/efs-policy.ts";
import { functionEnvironments, taskEnvironment } from "../infra/environment.ts";
import { AWS, JOBS, REQUIRED_MARGIN, estimate, lambdaVcpus, type BenchResults } from "../infra/limits-model.ts";
import { EFS_LAMBDA_MEMORY_MB, SCHEDULE_PLACEMENT, TASK_CONTAINER, TASK_INPUT, WORK_PLACEMENT, workPatterns } from "../infra/placement.ts";

const bench = JSON.parse(readFileSync(new URL("../bench/results/latest.json", import.meta.url), "utf8")) as BenchResults;
const onLambda = (job: (typeof JOBS)[number]) => estimate(bench, job, lambdaVcpus(EFS_LAMBDA_MEMORY_MB), AWS.lambdaTimeoutS);
const DEPLOYED = { bucket: "colab-backup-production-backupsbucket-a1b2c3d4", bus: "colab-backup-production-EventsBus-x9y8z7" };

describe("the limits model on the bench results", () => {
  it("estimates every job from measured rows, with CPU, EFS and S3 all counted", () => {
    for (const job of JOBS) {
      const e = onLambda(job);
      expect(e.cpuS, job).toBeGreaterThan(0);
      expect(e.totalS, job).toBeCloseTo(e.cpuS + e.efsS + e.s3S, 6);
    }
    // More vCPUs never make a job slower, and never faster than the cores it used here allow.
    for (const job of JOBS) expect(estimate(bench, job, lambdaVcpus(10240)).totalS).toBeLessThanOrEqual(onLambda(job).totalS);
  });

  it("names the bench row it misses instead of guessing", () => {
    const partial = { ...bench, rows: bench.rows.filter((r) => r.operation !== "export") };
    expect(() => estimate(partial, "export", 1)).toThrow(/no colab-backup "export" row; run npm run bench/);
  });
});

describe("the dispatch rule (infra/placement.ts)", () => {
  const cases = [...Object.entries(WORK_PLACEMENT), ...Object.entries(SCHEDULE_PLACEMENT)];

  it.each(cases)("%s runs on Lambda exactly when the model gives it 2x margin there", (_what, { runtime, model }) => {
    const margin = onLambda(model).margin;
    expect(runtime).toBe(margin >= REQUIRED_MARGIN ? "lambda" : "task");
  });

  it("sends the restore, which has nowhere near the 2x margin on Lambda, to the task", () => {
    expect(onLambda("restore").margin).toBeLessThan(REQUIRED_MARGIN);
    expect(WORK_PLACEMENT["restore.requested"].runtime).toBe("task");
  });

  it("splits the worker's events: each requested job matches exactly one runtime's pattern", () => {
    const { lambda, task } = workPatterns();
    for (const type of WORKER_PATTERN["detail-type"]) {
      const event = { source: EVENT_SOURCE, "detail-type": type };
      expect([matches(lambda, event), matches(task, event)].filter(Boolean), type).toHaveLength(1);
      expect(matches(task, event), type).toBe(WORK_PLACEMENT[type as keyof typeof WORK_PLACEMENT].runtime === "task");
    }
    expect(task["detail-type"]).toEqual(["restore.requested"]);
    expect(matches(task, { source: "aws.scheduler", "detail-type": "restore.requested" })).toBe(false);
  });

  it("hands the task its job through an input transformer that yields RunTask overrides", () => {
    // EventBridge inserts a string value as a JSON string; the template must parse once filled in.
    const filled = TASK_INPUT.inputTemplate.replace("<jobId>", JSON.stringify("job-20261130T020000Z-0a1b2c3d")).replace("<type>", JSON.stringify("restore.requested"));
    expect(JSON.parse(filled)).toEqual({
      containerOverrides: [{ name: TASK_CONTAINER, environment: [{ name: "JOB_ID", value: "job-20261130T020000Z-0a1b2c3d" }, { name: "JOB_EVENT_TYPE", value: "restore.requested" }] }],
    });
    expect(TASK_INPUT.inputPaths).toEqual({ jobId: "$.detail.jobId", type: "$.detail-type" });
  });
});

describe("the JobTask's environment as infra builds it", () => {
  const deployEnv = { TZ: "Europe/Berlin", BACKUP_EFS_CRM_DIR: "colab-crm", BACKUP_RETENTION_DAILY: "14", BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_FROM: "backup@colab.example", BACKUP_EMAIL_TO: "ops@colab.example" };
  const infra = readInfraConfig(deployEnv);
  const env = taskEnvironment(infra, DEPLOYED);
  const worker = functionEnvironments(infra, DEPLOYED).Worker;

  it("is the Worker's plus the bus, which the task reaches itself (public IP, no Lambda destination)", () => {
    expect(env).toEqual({ ...worker, BACKUP_EVENT_BUS: DEPLOYED.bus });
    // infra/tasks.ts passes exactly this mapping and sets no other variable on the task.
    const tasksTs = readFileSync(new URL("../infra/tasks.ts", import.meta.url), "utf8");
    expect(tasksTs.match(/^\s*environment:.*$/gm)).toEqual(["    environment: taskEnvironment<$util.Input<string>>(config, { bucket: bucket.name, bus: bus.name }) as Record<string, $util.Input<string>>,"]);
  });

  it("loads in core/config.ts: the S3 store, the CRM on the EFS mount, SES, the bus", () => {
    const c = loadConfig({ ...env, AWS_REGION: "eu-central-1" }, "/app");
    expect(c.storage).toMatchObject({ kind: "s3", bucket: DEPLOYED.bucket, prefix: "backups/" });
    expect(c.crmRoot).toBe("/mnt/crm/colab-crm");
    expect(c.email.transport).toBe("ses");
    expect(c.eventBus).toBe(DEPLOYED.bus);
    expect(c.retention.daily).toBe(14);
  });

  it("gets write through the CRM's access point in the EFS policy, and no root", () => {
    const T = {
      fileSystemArn: "arn:aws:elasticfilesystem:eu-central-1:123456789012:file-system/fs-0123",
      accessPointArn: "arn:aws:elasticfilesystem:eu-central-1:123456789012:access-point/fsap-0123",
      backupRoleArn: "arn:aws:iam::123456789012:role/Backup",
      workerRoleArn: "arn:aws:iam::123456789012:role/Worker",
      taskRoleArn: "arn:aws:iam::123456789012:role/JobTask",
    };
    const { Statement } = efsPolicy(T) as unknown as { Statement: { Sid: string; Principal: { AWS: string | string[] } }[] };
    const principals = (sid: string) => [Statement.find((s) => s.Sid === sid)!.Principal.AWS].flat();
    expect(principals("WorkerNoRoot")).toEqual([T.workerRoleArn, T.taskRoleArn]);
    expect(principals("FunctionsOnlyThroughCrmAccessPoint")).toContain(T.taskRoleArn);
    expect(principals("BackupReadOnly")).not.toContain(T.taskRoleArn);
  });
});
