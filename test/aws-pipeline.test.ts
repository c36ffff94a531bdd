// The AWS pipeline on LocalStack: handlers fed real event payloads in infra/'s environments, S3 archives, EventBridge rules to SQS, destination records, mail through SES.
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateBucketCommand, DeleteBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { CreateConfigurationSetCommand, SESClient, VerifyEmailIdentityCommand } from "@aws-sdk/client-ses";
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { decodeManifest } from "../core/manifest-codec.ts";
import { CLEANUP_PATTERN, NOTIFIER_PATTERN } from "../core/events/patterns.ts";
import { readInfraConfig } from "../infra/config.ts";
import { functionEnvironments, type FunctionName } from "../infra/environment.ts";
import { workPatterns } from "../infra/placement.ts";
import { CREDENTIALS } from "./localstack/config.ts";
import { inFunction, localLambdaEnvs } from "./localstack/lambda-env.ts";
import { adminS3, deletePrefix } from "./localstack/resources.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { mintAdminToken } from "../runtime/local-auth.ts";

const ls = inject("localstack");
const run = randomBytes(4).toString("hex");
const BUS = `colab-backup-test-${run}`;
// The stage's own bucket, as on AWS: infra/ fixes the key prefix (backups/), so runs are kept apart by bucket.
const BUCKET = `colab-pipeline-${run}`;
const PREFIX = "backups/";
const CONFIG_SET = `colab-mail-${run}`;
const FROM = "backup@colab.example";
const SECRET = "aws-pipeline-test-secret-at-least-32-chars";
const TO = "admin@colab.example";
const ACCOUNT = "000000000000";
const clients = { region: ls.region, endpoint: ls.endpoint, credentials: CREDENTIALS };
const sqs = new SQSClient(clients);
const eb = new EventBridgeClient(clients);
const s3 = adminS3(ls);
let queueUrl = "";
let workQueueUrl = "";
let crmRoot = "";
let env: Record<FunctionName, Record<string, string>>;

/** The deployer's .env for this stage: mail on, from an SES identity; everything else infra/'s defaults. */
const DEPLOY_ENV = { BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_FROM: FROM, BACKUP_EMAIL_TO: TO };
const functionArn = (fn: FunctionName) => `arn:aws:lambda:${ls.region}:${ACCOUNT}:function:colab-backup-test-${fn}`;

/**
 * What Lambda puts on the bus when an asynchronous invocation of a VPC function ends (its destination): the
 * function's return value, or its error after the retries, with the event it was given (infra/events.ts).
 */
async function deliverResult(fn: FunctionName, request: unknown, outcome: PromiseSettledResult<unknown>) {
  const failed = outcome.status === "rejected";
  const err = failed ? (outcome.reason as Error) : undefined;
  const detail = {
    version: "1.0",
    timestamp: new Date().toISOString(),
    requestContext: { requestId: randomBytes(8).toString("hex"), functionArn: `${functionArn(fn)}:$LATEST`, condition: failed ? "RetriesExhausted" : "Success", approximateInvokeCount: failed ? 2 : 1 },
    requestPayload: request,
    responseContext: { statusCode: 200, executedVersion: "$LATEST", ...(failed ? { functionError: "Unhandled" } : {}) },
    responsePayload: failed ? { errorType: err!.name, errorMessage: err!.message, trace: [] } : (outcome as PromiseFulfilledResult<unknown>).value,
  };
  const out = await eb.send(
    new PutEventsCommand({
      Entries: [{ EventBusName: BUS, Source: "lambda", DetailType: `Lambda Function Invocation Result - ${failed ? "Failure" : "Success"}`, Resources: [`${functionArn(fn)}:$LATEST`], Detail: JSON.stringify(detail) }],
    }),
  );
  expect(out.FailedEntryCount).toBe(0);
}

type Handlers = {
  scheduled: typeof import("../functions/scheduled-backup.ts");
  notifier: typeof import("../functions/notifier.ts");
  worker: typeof import("../functions/worker.ts");
  api: typeof import("../functions/api.ts");
  cleanup: typeof import("../functions/cleanup.ts");
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

/** Each handler called in its own function's environment. */
const call = {
  scheduled: (event: unknown) => inFunction(env.ScheduledBackup, () => h.scheduled.handler(event)),
  notifier: (event: unknown) => inFunction(env.Notifier, () => h.notifier.handler(event)),
  worker: (event: unknown) => inFunction(env.Worker, () => h.worker.handler(event)),
  api: (event: unknown) => inFunction(env.Api, () => h.api.handler(event as never)),
  cleanup: (event: unknown) => inFunction(env.Cleanup, () => h.cleanup.handler(event)),
};

afterAll(async () => {
  await deletePrefix(s3, BUCKET, "");
  await s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
});

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
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await eb.send(new CreateEventBusCommand({ Name: BUS }));
  const q = await sqs.send(new CreateQueueCommand({ QueueName: `colab-notify-${run}` }));
  queueUrl = q.QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  // The very pattern infra/events.ts gives the notifier's rule.
  await eb.send(new PutRuleCommand({ Name: `notify-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(NOTIFIER_PATTERN) }));
  await eb.send(new PutTargetsCommand({ Rule: `notify-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: arn }] }));
  // The pattern infra/events.ts destinationPattern() gives the rule for the VPC functions' destination records.
  const destinations = {
    source: ["lambda"],
    "detail-type": ["Lambda Function Invocation Result - Success", "Lambda Function Invocation Result - Failure"],
    detail: { requestContext: { functionArn: (["ScheduledBackup", "Worker"] as const).map((fn) => ({ prefix: `${functionArn(fn)}:` })) } },
  };
  await eb.send(new PutRuleCommand({ Name: `results-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(destinations) }));
  await eb.send(new PutTargetsCommand({ Rule: `results-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: arn }] }));
  const wq = await sqs.send(new CreateQueueCommand({ QueueName: `colab-work-${run}` }));
  workQueueUrl = wq.QueueUrl!;
  const workArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: workQueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  // infra/events.ts's "Work" rule: the requested jobs placed on Lambda (restore.requested goes to the JobTask: test/aws-task.test.ts).
  await eb.send(new PutRuleCommand({ Name: `work-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(workPatterns().lambda) }));
  await eb.send(new PutTargetsCommand({ Rule: `work-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: workArn }] }));
  // infra/events.ts's "Cleanup" rule; its target (the cleanup function) is stood in for by the same queue.
  await eb.send(new PutRuleCommand({ Name: `cleanup-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(CLEANUP_PATTERN) }));
  await eb.send(new PutTargetsCommand({ Rule: `cleanup-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: workArn }] }));
  const ses = new SESClient(clients);
  await ses.send(new VerifyEmailIdentityCommand({ EmailAddress: FROM }));
  await ses.send(new CreateConfigurationSetCommand({ ConfigurationSet: { Name: CONFIG_SET } }));

  crmRoot = makeCrm().root;
  const work = tempDir("pipeline-work-");
  // Exactly what infra/ gives each function; only LocalStack, local folders and what Lambda adds differ.
  const infraEnvs = functionEnvironments(readInfraConfig(DEPLOY_ENV), { bucket: BUCKET, bus: BUS, sesConfigurationSet: CONFIG_SET, dashboardUrl: "https://dashboard.colab.example" });
  env = localLambdaEnvs(infraEnvs, ls, { crmRoot, workDir: (fn) => path.join(work, fn) });
  // The API's JwtSecret link, as SST delivers a linked secret to the function (read by `Resource.JwtSecret.value`).
  env.Api.SST_RESOURCE_JwtSecret = JSON.stringify({ type: "sst.sst.Secret", value: SECRET });
  h = {
    scheduled: await import("../functions/scheduled-backup.ts"),
    notifier: await import("../functions/notifier.ts"),
    worker: await import("../functions/worker.ts"),
    api: await import("../functions/api.ts"),
    cleanup: await import("../functions/cleanup.ts"),
  };
});

describe("AWS pipeline on LocalStack", () => {
  it("runs in infra/'s environments: S3 store in the stage bucket, SES transport, no bus inside the VPC", async () => {
    const { loadConfig } = await import("../core/config.ts");
    for (const fn of ["ScheduledBackup", "Worker", "Cleanup", "Notifier", "Api"] as const) {
      const c = loadConfig(env[fn]);
      expect(c.storage, fn).toMatchObject({ kind: "s3", bucket: BUCKET, prefix: PREFIX, endpoint: ls.endpoint });
      expect(c.email, fn).toMatchObject({ enabled: true, transport: "ses", from: FROM, to: TO });
      expect(c.eventBus, fn).toBe(fn === "Cleanup" || fn === "Api" ? BUS : undefined);
    }
  });

  it("backs up from a real scheduled event to S3 as a v2 backup whose every pack is present and hashes to its name; a duplicate makes none", async () => {
    const event = scheduledEvent("daily", "2026-11-26T02:00:00Z");
    const result = await call.scheduled(event);
    expect(result).toMatchObject({ type: "backup.succeeded", detail: { type: "daily", archiveKey: expect.stringMatching(/^daily\/daily-.*\.json$/) } });
    const detail = (result as { detail: { archiveKey: string; backupId: string; sizeBytes: number } }).detail;
    // Stored as gzipped compact JSON (core/manifest-codec.ts), decoded to the full record.
    const manifest = decodeManifest(Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${detail.archiveKey}` }))).Body!.transformToByteArray())) as Record<string, any>;
    expect(manifest).toMatchObject({ formatVersion: 2, id: detail.backupId, stored: { referencedBytes: detail.sizeBytes } });
    // A pack is named by the SHA-256 of its bytes: download each one the backup references and check it.
    const packs = new Set<string>();
    for (const c of Object.values(manifest.components) as { files: { blobs: { pack: string }[] }[] }[]) for (const f of c.files) for (const b of f.blobs) packs.add(b.pack);
    expect(packs.size).toBeGreaterThan(0);
    for (const pack of packs) {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${pack}` }))).Body!.transformToByteArray();
      expect(pack).toBe(`data/packs/${createHash("sha256").update(body).digest("hex").slice(0, 2)}/${createHash("sha256").update(body).digest("hex")}.pack`);
    }

    // The same slot delivered again (at-least-once): no second backup, no second event, and not a failure.
    expect(await call.scheduled({ ...event, id: "redelivery" })).toBeNull();
    const { listBackups } = await import("../core/catalog.ts");
    const { buildDeps } = await import("../runtime/aws.ts");
    const { engine } = await inFunction(env.ScheduledBackup, () => buildDeps());
    expect((await listBackups(engine.storage, "daily")).map((b) => b.id)).toEqual([detail.backupId]);
  });

  it("fails the invocation on a failed backup; Lambda's failure record goes bus -> rule -> SQS -> notifier -> SES as a failure email", async () => {
    await receiveAll(10, 3000); // drop anything left over
    const before = (await sesMessages()).length;

    rmSync(path.join(crmRoot, "prisma", "dev.db")); // forced failure: the database is gone
    const event = scheduledEvent("weekly", "2026-11-29T01:00:00Z");
    const [outcome] = await Promise.allSettled([call.scheduled(event)]);
    expect(outcome!.status).toBe("rejected");
    expect((outcome as PromiseRejectedResult).reason).toMatchObject({ name: "NotFoundError", message: expect.stringMatching(/does not exist/) });
    await deliverResult("ScheduledBackup", event, outcome!);

    const [delivered] = await receiveAll(1);
    expect(delivered).toMatchObject({ source: "lambda", "detail-type": "Lambda Function Invocation Result - Failure" });
    const sent = await call.notifier({ Records: [{ eventSource: "aws:sqs", body: JSON.stringify(delivered) }] });
    expect(sent).toEqual({ sent: 1, failed: 0 });

    const mails = (await sesMessages()).slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ Source: FROM, Destination: { ToAddresses: [TO] }, Subject: "[colab-backup] weekly backup FAILED" });
    expect(mails[0]!.Body.text_part).toMatch(/does not exist[\s\S]*What to check/);
    expect(mails[0]!.Body.html_part).toContain("<table");
  });

  it("runs an API request through bus -> rule -> worker once, mails the result from its destination record, and answers its download with the export job", async () => {
    rmSync(crmRoot, { recursive: true });
    makeCrm(crmRoot); // the previous test removed the database
    await receiveAll(10, 2000);
    const before = (await sesMessages()).length;
    const token = await mintAdminToken(SECRET, { email: "ada@colab.example" });

    const created = await call.api(apiEvent("POST", "/api/backup/create", token, { description: "through the worker" }));
    expect(created.statusCode).toBe(202);
    const { jobId, backupId } = JSON.parse(created.body);

    const [requested] = await receiveAll(1, 20_000, () => workQueueUrl);
    expect(requested).toMatchObject({ "detail-type": "backup.requested", detail: { jobId, backupId } });
    const result = await call.worker(requested);
    expect(result).toMatchObject({ type: "backup.succeeded", detail: { backupId, description: "through the worker" } });
    expect(await call.worker(requested)).toBeNull(); // the same event delivered twice runs once
    await deliverResult("Worker", requested, { status: "fulfilled", value: result });

    const job = JSON.parse((await call.api(apiEvent("GET", `/api/backup/jobs/${jobId}`, token))).body);
    expect(job).toMatchObject({ state: "succeeded", backupId });

    const notices = await receiveAll(1);
    expect(notices.map((n) => n["detail-type"])).toEqual(["Lambda Function Invocation Result - Success"]);
    await call.notifier({ Records: notices.map((n) => ({ eventSource: "aws:sqs", body: JSON.stringify(n) })) });
    const mails = (await sesMessages()).slice(before);
    expect(mails.map((m) => m.Subject)).toEqual([`[colab-backup] manual backup succeeded: ${backupId}`]);
    // The notifier is another function: the API's status learns of its send through the store.
    const status = JSON.parse((await call.api(apiEvent("GET", "/api/backup/status", token))).body);
    expect(status.email).toMatchObject({ enabled: true, lastResult: { ok: true, detail: expect.stringMatching(/accepted by SES/) } });

    // A v2 backup has no stored archive to presign: the API starts the export job (test/aws-download.test.ts follows it
    // through the worker to the presigned exports/<id>.tar.gz).
    const download = await call.api(apiEvent("GET", `/api/backup/${backupId}/download`, token));
    expect(download.statusCode).toBe(202);
    expect(JSON.parse(download.body)).toMatchObject({ backupId, jobId: expect.any(String) });
  });

  it("runs a cleanup the API accepted (202) through bus -> rule -> cleanup function once, and the job records its outcome", async () => {
    await receiveAll(10, 2000, () => workQueueUrl);
    const token = await mintAdminToken(SECRET, { email: "ada@colab.example" });
    const accepted = await call.api(apiEvent("POST", "/api/backup/cleanup", token, { dryRun: false }));
    expect(accepted.statusCode).toBe(202);
    const { jobId } = JSON.parse(accepted.body);
    expect(JSON.parse((await call.api(apiEvent("GET", `/api/backup/jobs/${jobId}`, token))).body)).toMatchObject({ kind: "cleanup", state: "queued" });

    const [requested] = await receiveAll(1, 20_000, () => workQueueUrl);
    expect(requested).toMatchObject({ "detail-type": "cleanup.requested", detail: { jobId, actor: "ada@colab.example" } });
    expect(await call.cleanup(requested)).toMatchObject({ type: "cleanup.completed", detail: { removed: [] } });
    expect(await call.cleanup(requested)).toBeNull(); // a second delivery runs nothing
    const job = JSON.parse((await call.api(apiEvent("GET", `/api/backup/jobs/${jobId}`, token))).body);
    expect(job).toMatchObject({ kind: "cleanup", state: "succeeded", result: { dryRun: false, removed: [] } });
  });

});
