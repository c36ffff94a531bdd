// The AWS pipeline on LocalStack: handlers fed real event payloads, S3 archives, EventBridge rules to SQS, mail through SES.
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { GetObjectCommand, GetObjectTaggingCommand } from "@aws-sdk/client-s3";
import { SESClient, VerifyEmailIdentityCommand } from "@aws-sdk/client-ses";
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { NOTIFIER_PATTERN, WORKER_PATTERN } from "../core/events/patterns.ts";
import { CREDENTIALS } from "./localstack/config.ts";
import { adminS3 } from "./localstack/resources.ts";
import { makeCrm } from "./helpers/crm.ts";
import { mintAdminToken } from "../cli/local-auth.ts";

const ls = inject("localstack");
const run = randomBytes(4).toString("hex");
const BUS = `colab-backup-test-${run}`;
const PREFIX = `pipeline-${run}/`;
const FROM = "backup@colab.example";
const SECRET = "aws-pipeline-test-secret-at-least-32-chars";
const TO = "admin@colab.example";
const clients = { region: ls.region, endpoint: ls.endpoint, credentials: CREDENTIALS };
const sqs = new SQSClient(clients);
const s3 = adminS3(ls);
let queueUrl = "";
let workQueueUrl = "";
let crmRoot = "";

type Handlers = {
  scheduled: typeof import("../functions/scheduled-backup.ts");
  notifier: typeof import("../functions/notifier.ts");
  worker: typeof import("../functions/worker.ts");
  api: typeof import("../functions/api.ts");
};

/** An API Gateway HTTP API (payload 2.0) request, as the api function receives it. */
function apiEvent(method: string, rawPath: string, token: string, body?: unknown) {
  return {
    version: "2.0", routeKey: "$default", rawPath, rawQueryString: "", isBase64Encoded: false,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", host: "api.example.com" },
    requestContext: { accountId: "000000000000", apiId: "api", domainName: "api.example.com", domainPrefix: "api", requestId: randomBytes(8).toString("hex"), routeKey: "$default", stage: "$default", time: "26/Nov/2026:02:00:00 +0000", timeEpoch: Date.now(), http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" } },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}
let h: Handlers;

/** A schedule's event exactly as EventBridge Scheduler delivers infra/crons.ts's input. */
const scheduledEvent = (type: string, time: string) => ({
  version: "0",
  id: randomBytes(16).toString("hex"),
  "detail-type": "Scheduled Event",
  source: "aws.scheduler",
  time,
  resources: [`arn:aws:scheduler:${ls.region}:000000000000:schedule/default/colab-backup-test-${type}`],
  detail: { type, schedule: "0 2 * * *", timeZone: "UTC" },
});

/** Drains the queue the notifier rule feeds, as an SQS-triggered Lambda would receive it. */
async function receiveAll(expected: number, timeoutMs = 20_000, url = () => queueUrl) {
  const queueUrl = url();
  const bodies: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (bodies.length < expected && Date.now() < deadline) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) {
      bodies.push(m.Body!);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  return bodies.map((b) => JSON.parse(b));
}

async function sesMessages(): Promise<{ Subject: string; Body: { text_part: string; html_part: string }; Destination: { ToAddresses: string[] }; Source: string }[]> {
  const res = await fetch(`${ls.endpoint}/_aws/ses`);
  return ((await res.json()) as { messages: never[] }).messages;
}

beforeAll(async () => {
  const eb = new EventBridgeClient(clients);
  await eb.send(new CreateEventBusCommand({ Name: BUS }));
  const q = await sqs.send(new CreateQueueCommand({ QueueName: `colab-notify-${run}` }));
  queueUrl = q.QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  // The very pattern infra/events.ts gives the notifier's rule.
  await eb.send(new PutRuleCommand({ Name: `notify-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(NOTIFIER_PATTERN) }));
  await eb.send(new PutTargetsCommand({ Rule: `notify-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: arn }] }));
  const wq = await sqs.send(new CreateQueueCommand({ QueueName: `colab-work-${run}` }));
  workQueueUrl = wq.QueueUrl!;
  const workArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: workQueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  await eb.send(new PutRuleCommand({ Name: `work-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(WORKER_PATTERN) }));
  await eb.send(new PutTargetsCommand({ Rule: `work-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: workArn }] }));
  await new SESClient(clients).send(new VerifyEmailIdentityCommand({ EmailAddress: FROM }));

  crmRoot = makeCrm().root;
  Object.assign(process.env, {
    BACKUP_STORAGE: "s3",
    BACKUP_BUCKET: ls.bucket,
    BACKUP_S3_PREFIX: PREFIX,
    AWS_ENDPOINT_URL: ls.endpoint,
    AWS_REGION: ls.region,
    BACKUP_EVENT_BUS: BUS,
    BACKUP_EMAIL_ENABLED: "true",
    BACKUP_EMAIL_TRANSPORT: "ses",
    BACKUP_EMAIL_FROM: FROM,
    BACKUP_EMAIL_TO: TO,
    CRM_ROOT: crmRoot,
    JWT_SECRET: SECRET,
    BACKUP_DIR: path.join(crmRoot, "..", `work-${run}`),
  });
  h = {
    scheduled: await import("../functions/scheduled-backup.ts"),
    notifier: await import("../functions/notifier.ts"),
    worker: await import("../functions/worker.ts"),
    api: await import("../functions/api.ts"),
  };
});

describe("AWS pipeline on LocalStack", () => {
  it("backs up from a real scheduled event to S3, with tag and manifest SHA-256 equal to the downloaded bytes'; a duplicate makes none", async () => {
    const event = scheduledEvent("daily", "2026-11-26T02:00:00Z");
    const result = await h.scheduled.handler(event);
    expect(result).toMatchObject({ type: "backup.succeeded", detail: { type: "daily", archiveKey: expect.stringMatching(/^daily\/daily-.*\.tar\.gz$/) } });
    const detail = (result as { detail: { archiveKey: string; backupId: string; sha256: string; sizeBytes: number } }).detail;
    const key = `${PREFIX}${detail.archiveKey}`;

    const body = await (await s3.send(new GetObjectCommand({ Bucket: ls.bucket, Key: key }))).Body!.transformToByteArray();
    const downloaded = createHash("sha256").update(body).digest("hex");
    const tags = (await s3.send(new GetObjectTaggingCommand({ Bucket: ls.bucket, Key: key }))).TagSet ?? [];
    const manifest = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: ls.bucket, Key: key.replace(/\.tar\.gz$/, ".json") }))).Body!.transformToString());
    expect(tags.find((t) => t.Key === "colab-backup-sha256")?.Value).toBe(downloaded);
    expect(manifest.archive.sha256).toBe(downloaded);
    expect(manifest.archive.sizeBytes).toBe(body.length);
    expect(detail.sha256).toBe(downloaded);

    // The same slot delivered again (at-least-once): no second backup, no second event.
    expect(await h.scheduled.handler({ ...event, id: "redelivery" })).toBeNull();
    const { listBackups } = await import("../core/catalog.ts");
    const { buildDeps } = await import("../functions/deps.ts");
    const { engine } = await buildDeps();
    expect((await listBackups(engine.storage, "daily")).map((b) => b.id)).toEqual([detail.backupId]);
  });

  it("carries events bus -> rule -> SQS -> notifier -> SES, and a forced failure gives a backup.failed event and a failure email", async () => {
    await receiveAll(10, 3000); // drop what the first test published
    const before = (await sesMessages()).length;

    rmSync(path.join(crmRoot, "prisma", "dev.db")); // forced failure: the database is gone
    const failed = await h.scheduled.handler(scheduledEvent("weekly", "2026-11-29T01:00:00Z"));
    expect(failed).toMatchObject({ type: "backup.failed", detail: { type: "weekly", error: { code: "not_found" } } });

    const [delivered] = await receiveAll(1);
    expect(delivered).toMatchObject({ source: "colab-backup", "detail-type": "backup.failed", detail: { version: 1, type: "weekly" } });
    const outcome = await h.notifier.handler({ Records: [{ eventSource: "aws:sqs", body: JSON.stringify(delivered) }] });
    expect(outcome).toEqual({ sent: 1, failed: 0 });

    const mails = (await sesMessages()).slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ Source: FROM, Destination: { ToAddresses: [TO] }, Subject: "[colab-backup] weekly backup FAILED" });
    expect(mails[0]!.Body.text_part).toMatch(/does not exist[\s\S]*What to check/);
    expect(mails[0]!.Body.html_part).toContain("<table");
  });

  it("runs an API request through bus -> rule -> worker once, mails the result, and downloads through a presigned URL", async () => {
    rmSync(crmRoot, { recursive: true });
    makeCrm(crmRoot); // the previous test removed the database
    await receiveAll(10, 2000);
    const before = (await sesMessages()).length;
    const token = await mintAdminToken(SECRET, { email: "ada@colab.example" });

    const created = await h.api.handler(apiEvent("POST", "/api/backup/create", token, { description: "through the worker" }) as never);
    expect(created.statusCode).toBe(202);
    const { jobId, backupId } = JSON.parse(created.body);

    const [requested] = await receiveAll(1, 20_000, () => workQueueUrl);
    expect(requested).toMatchObject({ "detail-type": "backup.requested", detail: { jobId, backupId } });
    const result = await h.worker.handler(requested);
    expect(result).toMatchObject({ type: "backup.succeeded", detail: { backupId, description: "through the worker" } });
    expect(await h.worker.handler(requested)).toBeNull(); // the same event delivered twice runs once

    const job = JSON.parse((await h.api.handler(apiEvent("GET", `/api/backup/jobs/${jobId}`, token) as never)).body);
    expect(job).toMatchObject({ state: "succeeded", backupId });

    const notices = await receiveAll(1);
    expect(notices.map((n) => n["detail-type"])).toEqual(["backup.succeeded"]);
    await h.notifier.handler({ Records: notices.map((n) => ({ eventSource: "aws:sqs", body: JSON.stringify(n) })) });
    const mails = (await sesMessages()).slice(before);
    expect(mails.map((m) => m.Subject)).toEqual([`[colab-backup] manual backup succeeded: ${backupId}`]);
    // The notifier is another function: the API's status learns of its send through the store.
    const status = JSON.parse((await h.api.handler(apiEvent("GET", "/api/backup/status", token) as never)).body);
    expect(status.email).toMatchObject({ enabled: true, lastResult: { ok: true, detail: expect.stringMatching(/accepted by SES/) } });

    const download = await h.api.handler(apiEvent("GET", `/api/backup/${backupId}/download`, token) as never);
    expect(download.statusCode).toBe(302);
    const url = download.headers!.location as string;
    expect(url).toMatch(/X-Amz-Expires=300/);
    const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe((result as { detail: { sha256: string } }).detail.sha256);
  });
});
