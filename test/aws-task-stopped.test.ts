// The JobTaskStopped rule on LocalStack EventBridge: which ECS "Task State Change" events reach the alarm topic (SQS stands in for SNS), and the message the admins get.
import { randomBytes } from "node:crypto";
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { TASK_CONTAINER } from "../infra/placement.ts";
import { JOB_TASK_STOPPED_MESSAGE, jobTaskStoppedPattern } from "../infra/task-stopped.ts";
import { CREDENTIALS } from "./localstack/config.ts";

const ls = inject("localstack");
const run = randomBytes(4).toString("hex");
const BUS = `colab-stopped-${run}`;
const CLUSTER = `arn:aws:ecs:${ls.region}:000000000000:cluster/colab-backup-production-JobsCluster-${run}`;
const clients = { region: ls.region, endpoint: ls.endpoint, credentials: CREDENTIALS };
const sqs = new SQSClient(clients);
const eb = new EventBridgeClient(clients);
let queueUrl = "";

/** An ECS "Task State Change" event as ECS sends it (trimmed to the fields the rule and message read, plus neighbours). */
function taskEvent(n: number, detail: { lastStatus?: string; stopCode: string; stoppedReason: string; exitCode?: number; container?: string; cluster?: string }) {
  const taskArn = `arn:aws:ecs:${ls.region}:000000000000:task/jobs/${run}${n}`;
  return {
    Source: "aws.ecs",
    DetailType: "ECS Task State Change",
    EventBusName: BUS,
    Time: new Date("2026-12-07T03:00:00Z"),
    Resources: [taskArn],
    Detail: JSON.stringify({
      clusterArn: detail.cluster ?? CLUSTER,
      taskArn,
      lastStatus: detail.lastStatus ?? "STOPPED",
      desiredStatus: "STOPPED",
      launchType: "FARGATE",
      group: "family:colab-backup-production-JobTask",
      stopCode: detail.stopCode,
      stoppedReason: detail.stoppedReason,
      containers: [{ name: detail.container ?? TASK_CONTAINER, lastStatus: "STOPPED", taskArn, ...(detail.exitCode === undefined ? {} : { exitCode: detail.exitCode }) }],
      overrides: { containerOverrides: [{ name: TASK_CONTAINER, environment: [{ name: "JOB_ID", value: `job-${n}` }] }] },
    }),
  };
}

async function drain(wait = 4000): Promise<string[]> {
  const bodies: string[] = [];
  const until = Date.now() + wait;
  while (Date.now() < until) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) bodies.push(m.Body!);
  }
  return bodies;
}

beforeAll(async () => {
  await eb.send(new CreateEventBusCommand({ Name: BUS }));
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `colab-stopped-${run}` }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  // The very pattern and transformer infra/alarms.ts gives the JobTaskStopped rule and its target.
  await eb.send(new PutRuleCommand({ Name: `stopped-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(jobTaskStoppedPattern(CLUSTER)) }));
  await eb.send(
    new PutTargetsCommand({
      Rule: `stopped-${run}`,
      EventBusName: BUS,
      Targets: [{ Id: "alarms", Arn: arn, InputTransformer: { InputPathsMap: { ...JOB_TASK_STOPPED_MESSAGE.inputPaths }, InputTemplate: JOB_TASK_STOPPED_MESSAGE.inputTemplate } }],
    }),
  );
});

describe("JobTaskStopped rule (LocalStack EventBridge)", () => {
  it("mails a crashed or never-started JobTask, and stays silent for a clean exit, a running task, another cluster or container", async () => {
    const events = [
      taskEvent(1, { stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited", exitCode: 0 }),
      taskEvent(2, { stopCode: "EssentialContainerExited", stoppedReason: "OutOfMemoryError: Container killed due to memory usage", exitCode: 137 }),
      taskEvent(3, { stopCode: "TaskFailedToStart", stoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)" }),
      taskEvent(4, { lastStatus: "RUNNING", stopCode: "", stoppedReason: "", exitCode: 1 }),
      taskEvent(5, { stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited", exitCode: 1, cluster: `${CLUSTER}-other` }),
      taskEvent(6, { stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited", exitCode: 1, container: "sidecar" }),
      taskEvent(7, { stopCode: "UserInitiated", stoppedReason: "Task stopped by user", exitCode: 143 }),
    ];
    const put = await eb.send(new PutEventsCommand({ Entries: events }));
    expect(put.FailedEntryCount).toBe(0);

    const mails = (await drain()).map((b) => JSON.parse(b) as string).sort();
    expect(mails).toHaveLength(3);
    const byTask = (n: number) => mails.find((m) => m.includes(`/${run}${n} `));
    expect(byTask(2)).toMatch(/stopped abnormally at 2026-12-07T03:00:00Z \(EssentialContainerExited: OutOfMemoryError: Container killed due to memory usage\)/);
    expect(byTask(3)).toMatch(/\(TaskFailedToStart: CannotPullContainerError/);
    expect(byTask(7)).toMatch(/\(UserInitiated: Task stopped by user\)/);
    for (const m of mails) expect(m).toMatch(/dashboard's job list[\s\S]*rolled back/);
  });
});
