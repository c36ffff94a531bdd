// The scheduled-backup handler on a real CRM and fs store: success publishes BackupSucceeded (EMF), a failure fails the invocation, a duplicate succeeds quietly.
import { rmSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { NotFoundError } from "../core/errors.ts";
import { BACKUP_SUCCEEDED, FUNCTION_DIMENSION, METRICS_NAMESPACE } from "../core/metrics.ts";
import { makeCrm, tempDir } from "../test/helpers/crm.ts";

const FUNCTION_NAME = "colab-backup-test-ScheduledBackup";
let crmRoot = "";
let handler: typeof import("./scheduled-backup.ts").handler;

/** A schedule's event as EventBridge Scheduler delivers infra/crons.ts's input. */
const scheduled = (type: string, time: string) => ({
  version: "0",
  id: `${type}-${time}`,
  "detail-type": "Scheduled Event",
  source: "aws.scheduler",
  time,
  resources: ["arn:aws:scheduler:eu-central-1:123456789012:schedule/default/test"],
  detail: { type, schedule: "0 2 * * *", timeZone: "UTC" },
});

/** Runs `fn` and returns the EMF documents it wrote to stdout (the log lines CloudWatch would turn into metrics). */
async function metricsOf(fn: () => Promise<unknown>): Promise<{ docs: Record<string, any>[]; outcome: PromiseSettledResult<unknown> }> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: any) => (lines.push(String(chunk)), true));
  const [outcome] = await Promise.allSettled([fn()]);
  spy.mockRestore();
  const docs = lines.flatMap((l) => l.split("\n")).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));
  return { docs, outcome: outcome! };
}

beforeAll(async () => {
  crmRoot = makeCrm(undefined, "delete").root;
  Object.assign(process.env, {
    BACKUP_STORAGE: "fs",
    BACKUP_DIR: tempDir("scheduled-store-"),
    CRM_ROOT: crmRoot,
    AWS_LAMBDA_FUNCTION_NAME: FUNCTION_NAME,
  });
  handler = (await import("./scheduled-backup.ts")).handler;
});

afterEach(() => vi.restoreAllMocks());

describe("scheduled-backup handler", () => {
  it("returns backup.succeeded and writes one BackupSucceeded EMF line for the alarm's metric and dimension", async () => {
    const { docs, outcome } = await metricsOf(() => handler(scheduled("daily", "2026-11-26T02:00:00Z")));
    expect(outcome).toMatchObject({ status: "fulfilled", value: { type: "backup.succeeded", detail: { type: "daily" } } });
    expect(docs).toHaveLength(1);
    const [doc] = docs;
    expect(doc!._aws.CloudWatchMetrics).toEqual([{ Namespace: METRICS_NAMESPACE, Dimensions: [[FUNCTION_DIMENSION]], Metrics: [{ Name: BACKUP_SUCCEEDED, Unit: "Count" }] }]);
    expect(doc).toMatchObject({ [BACKUP_SUCCEEDED]: 1, [FUNCTION_DIMENSION]: FUNCTION_NAME, type: "daily" });
    expect(Math.abs(doc!._aws.Timestamp - Date.now())).toBeLessThan(60_000);
  });

  it("treats a duplicate delivery of the same slot as a success with no event and no metric", async () => {
    const { docs, outcome } = await metricsOf(() => handler(scheduled("daily", "2026-11-26T02:00:00Z")));
    expect(outcome).toEqual({ status: "fulfilled", value: null });
    expect(docs).toEqual([]);
  });

  it("fails the invocation when the backup fails (Lambda's Errors metric and retry), with no success metric", async () => {
    rmSync(path.join(crmRoot, "prisma", "dev.db"));
    const { docs, outcome } = await metricsOf(() => handler(scheduled("weekly", "2026-11-29T01:00:00Z")));
    expect(outcome.status).toBe("rejected");
    const reason = (outcome as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(NotFoundError);
    expect(reason.message).toMatch(/does not exist/);
    expect(docs).toEqual([]);
    // The slot was freed: the retry Lambda makes runs the backup again, and succeeds once the cause is gone.
    makeCrm(crmRoot, "delete");
    const retry = await metricsOf(() => handler(scheduled("weekly", "2026-11-29T01:00:00Z")));
    expect(retry.outcome).toMatchObject({ status: "fulfilled", value: { type: "backup.succeeded", detail: { type: "weekly" } } });
    expect(retry.docs).toHaveLength(1);
  });
});
