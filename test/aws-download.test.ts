// Downloads on AWS, on LocalStack: the API hands out presigned URLs (v1 archive as stored; v2 after the worker's export job wrote exports/<id>.tar.gz) that plain GETs download.
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateBucketCommand, DeleteBucketCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import { WORKER_PATTERN } from "../core/events/patterns.ts";
import { exportStream } from "../core/v2/export.ts";
import { readInfraConfig } from "../infra/config.ts";
import { functionEnvironments, type FunctionName } from "../infra/environment.ts";
import { mintAdminToken } from "../runtime/local-auth.ts";
import { CREDENTIALS } from "./localstack/config.ts";
import { inFunction, localLambdaEnvs } from "./localstack/lambda-env.ts";
import { adminS3, deletePrefix } from "./localstack/resources.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";

const ls = inject("localstack");
const run = randomBytes(4).toString("hex");
const BUS = `colab-download-${run}`;
const BUCKET = `colab-download-${run}`;
const SECRET = "aws-download-test-secret-at-least-32-chars";
const clients = { region: ls.region, endpoint: ls.endpoint, credentials: CREDENTIALS };
const sqs = new SQSClient(clients);
const eb = new EventBridgeClient(clients);
const s3 = adminS3(ls);
let workQueueUrl = "";
let env: Record<FunctionName, Record<string, string>>;
let token = "";
let h: { api: typeof import("../functions/api.ts"); worker: typeof import("../functions/worker.ts") };
const ids: Record<"v1" | "v2", string> = { v1: "", v2: "" };

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function apiEvent(method: string, rawPath: string) {
  return {
    version: "2.0", routeKey: "$default", rawPath, rawQueryString: "", isBase64Encoded: false,
    headers: { authorization: `Bearer ${token}`, host: "api.example.com" },
    requestContext: { accountId: "000000000000", apiId: "api", domainName: "api.example.com", domainPrefix: "api", requestId: randomBytes(8).toString("hex"), routeKey: "$default", stage: "$default", time: "29/Nov/2026:02:00:00 +0000", timeEpoch: Date.now(), http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" } },
  };
}
type Answer = { statusCode: number; headers?: Record<string, string>; body: string };
const api = async (method: string, p: string) => (await inFunction(env.Api, () => h.api.handler(apiEvent(method, p) as never))) as Answer;

async function receiveOne(): Promise<Record<string, any>> {
  for (let i = 0; i < 20; i++) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: workQueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
    const m = out.Messages?.[0];
    if (m) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: workQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
      return JSON.parse(m.Body!);
    }
  }
  throw new Error("no event reached the worker's queue");
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await eb.send(new CreateEventBusCommand({ Name: BUS }));
  workQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `colab-download-work-${run}` }))).QueueUrl!;
  const workArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: workQueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  // infra/events.ts's "Work" rule, its target (the worker) stood in for by a queue.
  await eb.send(new PutRuleCommand({ Name: `work-${run}`, EventBusName: BUS, EventPattern: JSON.stringify(WORKER_PATTERN) }));
  await eb.send(new PutTargetsCommand({ Rule: `work-${run}`, EventBusName: BUS, Targets: [{ Id: "queue", Arn: workArn }] }));

  const crmRoot = makeCrm().root;
  const work = tempDir("download-work-");
  const infraEnvs = functionEnvironments(readInfraConfig({}), { bucket: BUCKET, bus: BUS, dashboardUrl: "https://dashboard.colab.example" });
  env = localLambdaEnvs(infraEnvs, ls, { crmRoot, workDir: (fn) => path.join(work, fn) });
  env.Api.SST_RESOURCE_JwtSecret = JSON.stringify({ type: "sst.sst.Secret", value: SECRET });
  h = { api: await import("../functions/api.ts"), worker: await import("../functions/worker.ts") };
  token = await mintAdminToken(SECRET, { email: "ada@colab.example" });

  // One backup in each format, written in the worker's environment with the format set explicitly.
  const { buildDeps } = await import("../runtime/aws.ts");
  for (const format of ["v1", "v2"] as const) {
    const { engine } = await buildDeps({ ...env.Worker, BACKUP_FORMAT: format });
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped || out.manifest.formatVersion !== (format === "v1" ? 1 : 2)) throw new Error(`expected a ${format} backup`);
    ids[format] = out.manifest.id;
  }
});

afterAll(async () => {
  await deletePrefix(s3, BUCKET, "");
  await s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
});

describe("downloads on S3 (LocalStack)", () => {
  it("gives a v1 backup a presigned URL, valid for a minute, that a plain GET downloads as an attachment with the manifest's SHA-256", async () => {
    const res = await api("POST", `/api/backup/${ids.v1}/download-link`);
    expect(res.statusCode).toBe(200);
    const link = JSON.parse(res.body) as { url: string; oneTime: boolean };
    expect(link.oneTime).toBe(false);
    expect(link.url).toMatch(new RegExp(`^${ls.endpoint}/${BUCKET}/backups/manual/${ids.v1}\\.tar\\.gz\\?.*X-Amz-Expires=60`));
    const got = await fetch(link.url);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-disposition")).toBe(`attachment; filename="${ids.v1}.tar.gz"`);
    const m = await readManifest((await (await import("../runtime/aws.ts")).buildDeps(env.Api)).engine.storage, ids.v1);
    if (m.formatVersion !== 1) throw new Error("expected v1");
    expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(m.archive.sha256);
    // The original contract on S3: a redirect to the same kind of URL.
    const legacy = await api("GET", `/api/backup/${ids.v1}/download`);
    expect(legacy.statusCode).toBe(302);
    expect(legacy.headers!.location).toMatch(/X-Amz-Expires=300/);
  });

  it("exports a v2 backup through bus -> worker once (a second click joins the job), then presigns exports/<id>.tar.gz", async () => {
    const first = await api("POST", `/api/backup/${ids.v2}/download-link`);
    expect(first.statusCode).toBe(202);
    const { jobId } = JSON.parse(first.body) as { jobId: string };
    expect(first.headers!.location).toBe(`/api/backup/jobs/${jobId}`);
    expect(JSON.parse((await api("POST", `/api/backup/${ids.v2}/download-link`)).body)).toMatchObject({ jobId });
    const legacy = await api("GET", `/api/backup/${ids.v2}/download`);
    expect(legacy.statusCode).toBe(202);
    expect(JSON.parse(legacy.body)).toMatchObject({ jobId });
    expect(legacy.headers!["retry-after"]).toBe("5");

    const requested = await receiveOne();
    expect(requested).toMatchObject({ "detail-type": "export.requested", detail: { jobId, backupId: ids.v2, actor: "ada@colab.example" } });
    expect(await inFunction(env.Worker, () => h.worker.handler(requested))).toBeNull(); // nothing to mail
    const job = JSON.parse((await api("GET", `/api/backup/jobs/${jobId}`)).body);
    expect(job).toMatchObject({ kind: "export", state: "succeeded", result: { key: `exports/${ids.v2}.tar.gz`, reused: false } });

    const res = await api("POST", `/api/backup/${ids.v2}/download-link`);
    expect(res.statusCode).toBe(200);
    const { url } = JSON.parse(res.body) as { url: string };
    expect(url).toMatch(new RegExp(`^${ls.endpoint}/${BUCKET}/backups/exports/${ids.v2}\\.tar\\.gz\\?`));
    const got = await fetch(url);
    expect(got.headers.get("content-disposition")).toBe(`attachment; filename="${ids.v2}.tar.gz"`);
    const bytes = new Uint8Array(await got.arrayBuffer());
    // The same bytes as the CLI's export of that backup.
    const { engine } = await (await import("../runtime/aws.ts")).buildDeps(env.Api);
    const chunks: Buffer[] = [];
    for await (const c of await exportStream(engine.storage, await readManifest(engine.storage, ids.v2))) chunks.push(c as Buffer);
    expect(sha256(bytes)).toBe(sha256(Buffer.concat(chunks)));
    expect(bytes.length).toBe(job.result.sizeBytes);
    expect((await api("GET", `/api/backup/${ids.v2}/download`)).statusCode).toBe(302);
  });
});
