// The JobTask path on LocalStack: the bus rule's pattern and input transformer, then functions/task.ts run as a plain node process (the container's entry; Docker is not available here) restoring from S3, failing loudly, and recovering a restore killed mid-swap.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateBucketCommand, DeleteBucketCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import type { Engine } from "../core/engine.ts";
import { NOTIFIER_PATTERN } from "../core/events/patterns.ts";
import { EventJobService } from "../core/jobs/event-service.ts";
import { readJob } from "../core/jobs/records.ts";
import { readInfraConfig } from "../infra/config.ts";
import { taskEnvironment } from "../infra/environment.ts";
import { TASK_INPUT, workPatterns } from "../infra/placement.ts";
import { buildDeps } from "../runtime/aws.ts";
import { crmState, restoreLeftovers, type CrmState } from "./fault/helpers.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { awsEnv, CREDENTIALS } from "./localstack/config.ts";
import { adminS3, deletePrefix } from "./localstack/resources.ts";

const ls = inject("localstack");
const REPO = fileURLToPath(new URL("..", import.meta.url));
const run = randomBytes(4).toString("hex");
const BUS = `colab-task-${run}`;
const BUCKET = `colab-task-${run}`;
const ALL = ["database", "uploads", "config", "logs"];
const clients = { region: ls.region, endpoint: ls.endpoint, credentials: CREDENTIALS };
const sqs = new SQSClient(clients);
const eb = new EventBridgeClient(clients);
const s3 = adminS3(ls);
const queues = { task: "", notify: "" };
let env: Record<string, string> = {};
let crmRoot = "";
let backupId = "";
let backupState: CrmState;
let engine: Engine;
let jobs: EventJobService;

/** A queue as a rule's target, with an optional input transformer; returns its URL. */
async function queueFor(name: string, pattern: object, transformer?: typeof TASK_INPUT): Promise<string> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: `colab-task-${name}-${run}` }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  await eb.send(new PutRuleCommand({ Name: `${name}-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(pattern) }));
  const InputTransformer = transformer && { InputPathsMap: { ...transformer.inputPaths }, InputTemplate: transformer.inputTemplate };
  await eb.send(new PutTargetsCommand({ Rule: `${name}-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: arn, InputTransformer }] }));
  return url;
}

async function receive(url: string, want: (body: Record<string, any>) => boolean): Promise<Record<string, any>> {
  for (let i = 0; i < 30; i++) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
      const body = JSON.parse(m.Body!);
      if (want(body)) return body;
    }
  }
  throw new Error("the expected message never arrived");
}

/** The RunTask overrides the rule produced, as the container's extra environment. */
const overridesEnv = (body: Record<string, any>): Record<string, string> =>
  Object.fromEntries((body as { containerOverrides: { environment: { name: string; value: string }[] }[] }).containerOverrides[0]!.environment.map((e) => [e.name, e.value]));

/** Runs the container's command, `node --import tsx functions/task.ts`, in the task's environment. */
function startTask(extra: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "functions/task.ts"], { cwd: REPO, env: { ...env, ...extra }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.stdout.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

function mutate(root: string): void {
  const db = new Database(path.join(root, "prisma", "dev.db"));
  db.exec(`UPDATE "Deal" SET amount = -1 WHERE id <= 50;`);
  db.close();
  writeFileSync(path.join(root, "uploads/a.txt"), "changed after the backup\n");
  writeFileSync(path.join(root, "uploads/new-after-backup.txt"), "new\n");
}

const journal = () => path.join(crmRoot, ".colab-restore-journal.json");

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await eb.send(new CreateEventBusCommand({ Name: BUS }));
  // infra/tasks.ts's RunJobTask rule (its ECS target stood in for by a queue, same input transformer), and the notifier's.
  queues.task = await queueFor("run-task", workPatterns().task, TASK_INPUT);
  queues.notify = await queueFor("notify", NOTIFIER_PATTERN);

  crmRoot = makeCrm().root;
  const infraEnv = taskEnvironment(readInfraConfig({}), { bucket: BUCKET, bus: BUS });
  expect(infraEnv.CRM_ROOT).toBe("/mnt/crm"); // the only values replaced below, as in test/localstack/lambda-env.ts
  expect(infraEnv.BACKUP_DIR).toBe("/tmp/colab-backup");
  const { BACKUP_BUCKET: _infraOwns, ...aws } = awsEnv(ls);
  env = { ...infraEnv, CRM_ROOT: crmRoot, BACKUP_DIR: tempDir("task-work-"), ...aws, BACKUP_FORMAT: "v2", PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };

  const deps = await buildDeps(env);
  engine = deps.engine;
  jobs = new EventJobService(engine, deps.bus!);
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped) throw new Error("manual backup skipped");
  backupId = out.manifest.id;
  backupState = crmState(crmRoot);
}, 120_000);

afterAll(async () => {
  await deletePrefix(s3, BUCKET, "");
  await s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
});

describe("the JobTask (functions/task.ts) against LocalStack", () => {
  it("gets a requested restore from the bus rule and restores from S3, exits 0 and publishes restore.succeeded", { timeout: 120_000 }, async () => {
    mutate(crmRoot);
    expect(crmState(crmRoot)).not.toEqual(backupState);
    const job = await jobs.submitRestore({ backupId, components: ALL, confirm: "CONFIRM_RESTORE", actor: "ada@colab.example" });

    const overrides = overridesEnv(await receive(queues.task, () => true));
    expect(overrides).toEqual({ JOB_ID: job.id, JOB_EVENT_TYPE: "restore.requested" });
    const ran = await startTask(overrides).done;
    expect(ran.code, ran.stderr).toBe(0);

    expect(crmState(crmRoot)).toEqual(backupState);
    expect(await readJob(engine.storage, job.id)).toMatchObject({ state: "succeeded", kind: "restore" });
    const event = await receive(queues.notify, (b) => b["detail-type"] === "restore.succeeded" && b.detail?.jobId === job.id);
    expect(event.detail).toMatchObject({ backupId });
    // A second delivery of the same event finds the job taken and does nothing.
    const again = await startTask(overrides).done;
    expect(again.code, again.stderr).toBe(0);
  });

  it("exits non-zero when its job fails, and when the rule's variables are missing, saying which", { timeout: 120_000 }, async () => {
    const missing = `manual-20260101T000000Z-${randomBytes(3).toString("hex")}`;
    const job = await jobs.submitVerify(missing, "ada@colab.example");
    const failed = await startTask({ JOB_ID: job.id, JOB_EVENT_TYPE: "verify.requested" }).done;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`verify job ${job.id} failed`);
    expect(await readJob(engine.storage, job.id)).toMatchObject({ state: "failed" });

    const bare = await startTask({}).done;
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/start job task: JOB_ID must name a recorded job .*got ""/);
  });

  it("killed inside the restore's swap, leaves a journal that the next task start rolls back before its own job", { timeout: 180_000 }, async () => {
    mutate(crmRoot);
    const before = crmState(crmRoot);
    const job = await jobs.submitRestore({ backupId, components: ALL, confirm: "CONFIRM_RESTORE", actor: "ada@colab.example" });
    const overrides = overridesEnv(await receive(queues.task, (b) => JSON.stringify(b).includes(job.id)));
    // Test-only: each swap step waits first, so the kill lands between steps (core/restore.ts).
    const { child, done } = startTask({ ...overrides, COLAB_TEST_SWAP_DELAY_MS: "500" });
    const swapping = () => existsSync(journal()) && /"phase":\s*"swapping"/.test(readFileSync(journal(), "utf8"));
    while (child.exitCode === null && !swapping()) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 700)); // past the first step: one component swapped, the others not
    child.kill("SIGKILL");
    expect((await done).signal).toBe("SIGKILL");
    expect(existsSync(journal())).toBe(true);

    // The next task (any job) ends the journal first: the CRM is as it was before the restore, as a whole.
    const verify = await jobs.submitVerify(backupId, "ada@colab.example");
    const next = await startTask({ JOB_ID: verify.id, JOB_EVENT_TYPE: "verify.requested" }).done;
    expect(next.code, next.stderr).toBe(0);
    expect(existsSync(journal())).toBe(false);
    expect(restoreLeftovers(crmRoot)).toEqual([]);
    expect(crmState(crmRoot)).toEqual(before);
    expect(await readJob(engine.storage, job.id)).toMatchObject({ state: "failed", error: { code: "restore_interrupted", rolledBack: true } });
    rmSync(path.join(crmRoot, "uploads/new-after-backup.txt"), { force: true });
  });
});
