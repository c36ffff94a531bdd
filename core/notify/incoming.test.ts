import { describe, expect, it } from "vitest";
import { envelope } from "../events/bus.ts";
import { notificationEvents } from "./incoming.ts";

const succeeded = { type: "cleanup.completed", detail: { version: 1, removed: [], freedBytes: 0, kept: 3, leftoversRemoved: [] } };
// A Lambda destination record as EventBridge delivers it (the VPC functions' results).
const destination = (kind: "Success" | "Failure", requestPayload: unknown, responsePayload: unknown) => ({
  version: "0", id: "1", "detail-type": `Lambda Function Invocation Result - ${kind}`, source: "lambda", account: "000000000000", time: "2026-11-26T02:00:10Z", region: "eu-central-1",
  resources: ["arn:aws:events:eu-central-1:000000000000:event-bus/colab"],
  detail: { version: "1.0", timestamp: "2026-11-26T02:00:10Z", requestContext: { requestId: "r", functionArn: "arn:aws:lambda:eu-central-1:000000000000:function:ScheduledBackup:$LATEST", condition: kind === "Success" ? "Success" : "RetriesExhausted", approximateInvokeCount: 2 }, requestPayload, responseContext: { statusCode: 200, executedVersion: "$LATEST" }, responsePayload },
});
const schedule = { version: "0", id: "s", "detail-type": "Scheduled Event", source: "aws.scheduler", time: "2026-11-26T02:00:00Z", resources: [], detail: { type: "monthly" } };

describe("notificationEvents", () => {
  it("takes bus events as they are and unwraps SQS batches", () => {
    const e = envelope("verify.failed", { version: 1, backupId: "b", error: "x" });
    expect(notificationEvents(e)).toEqual([e]);
    expect(notificationEvents({ Records: [{ body: JSON.stringify(e) }, { body: JSON.stringify(e) }] })).toHaveLength(2);
  });

  it("turns a VPC function's successful result into its event, and a null result into none", () => {
    expect(notificationEvents(destination("Success", schedule, succeeded))[0]).toMatchObject({ "detail-type": "cleanup.completed", detail: { kept: 3 } });
    expect(notificationEvents(destination("Success", schedule, null))).toEqual([]);
  });

  it("turns a crashed function into the failure event of what it was asked to do", () => {
    const [fromSchedule] = notificationEvents(destination("Failure", schedule, { errorMessage: "Task timed out after 900.00 seconds", errorType: "Sandbox.Timedout" }));
    expect(fromSchedule).toMatchObject({ "detail-type": "backup.failed", detail: { type: "monthly", error: { code: "Sandbox.Timedout", message: "Task timed out after 900.00 seconds" } } });
    const requested = envelope("restore.requested", { version: 1, jobId: "j", backupId: "b", components: ["database"], actor: "ada" });
    const [fromWorker] = notificationEvents(destination("Failure", requested, { errorMessage: "out of memory" }));
    expect(fromWorker).toMatchObject({ "detail-type": "restore.failed", detail: { backupId: "b", actor: "ada", error: { message: "out of memory" } } });
  });

  it("rejects anything else with a validation error", () => {
    expect(() => notificationEvents({ source: "someone", "detail-type": "x", detail: {} })).toThrow();
  });
});
