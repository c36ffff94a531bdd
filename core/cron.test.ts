import { describe, expect, it } from "vitest";
import { nextRun, parseCron } from "./cron.ts";

describe("cron", () => {
  it("computes the next run in the configured time zone", () => {
    const from = new Date("2026-11-26T12:00:00Z");
    expect(nextRun("0 2 * * *", "UTC", from)?.toISOString()).toBe("2026-11-27T02:00:00.000Z");
    expect(nextRun("0 2 * * *", "Europe/Berlin", from)?.toISOString()).toBe("2026-11-27T01:00:00.000Z");
    // Sunday 01:00: 2026-11-29 is a Sunday.
    expect(nextRun("0 1 * * 0", "UTC", from)?.toISOString()).toBe("2026-11-29T01:00:00.000Z");
    expect(nextRun("0 0 1 * *", "America/New_York", from)?.toISOString()).toBe("2026-12-01T05:00:00.000Z");
  });

  it.each([["0 2 * *", /expected 5 fields/], ["0 2 * * * *", /expected 5 fields/], ["60 2 * * *", /not valid/], ["a b c d e", /not valid/]])(
    "rejects %j",
    (expr, msg) => expect(() => parseCron(expr)).toThrow(msg),
  );
});
