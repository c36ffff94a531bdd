import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.ts";
import { parseScheduledEvent } from "./schedule-event.ts";

// As EventBridge Scheduler delivers infra/crons.ts's input, placeholders filled in.
const schedulerEvent = {
  version: "0",
  id: "f1b3c0de-0000-4000-8000-000000000001",
  "detail-type": "Scheduled Event",
  source: "aws.scheduler",
  time: "2026-11-26T02:00:00Z",
  resources: ["arn:aws:scheduler:eu-central-1:123456789012:schedule/default/colab-backup-production-DailyBackup"],
  detail: { type: "daily", schedule: "0 2 * * *", timeZone: "Europe/Berlin" },
};

// As an EventBridge rule delivers a schedule with no input.
const ruleEvent = {
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "123456789012",
  time: "2026-11-29T01:00:00Z",
  region: "eu-central-1",
  resources: ["arn:aws:events:eu-central-1:123456789012:rule/colab-backup-weekly"],
  detail: {},
};

describe("parseScheduledEvent", () => {
  it("takes the type from the schedule's input and the slot from the event time", () => {
    expect(parseScheduledEvent(schedulerEvent)).toEqual({ kind: "daily", scheduledAt: new Date("2026-11-26T02:00:00Z") });
  });

  it("falls back to the rule's name", () => {
    expect(parseScheduledEvent(ruleEvent)).toEqual({ kind: "weekly", scheduledAt: new Date("2026-11-29T01:00:00Z") });
    expect(parseScheduledEvent({ ...ruleEvent, resources: ["arn:aws:events:x:1:rule/app-CleanupBackup"] }).kind).toBe("cleanup");
  });

  it.each([
    [{ ...ruleEvent, resources: ["arn:aws:events:x:1:rule/something-else"] }, /names no backup type/],
    [{ ...schedulerEvent, time: "yesterday" }, /time/],
    [{ ...schedulerEvent, "detail-type": "Object Created" }, /detail-type/],
    [{ ...schedulerEvent, detail: { type: "hourly" } }, /detail.type/],
    [null, /Scheduled Event/],
  ])("rejects %#", (event, message) => {
    expect(() => parseScheduledEvent(event)).toThrow(ValidationError);
    expect(() => parseScheduledEvent(event)).toThrow(message);
  });
});
