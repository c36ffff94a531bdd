import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { toEventBridgeCron } from "./eventbridge-cron.ts";

const eb = (expr: string) => toEventBridgeCron(expr).expression;

describe("toEventBridgeCron", () => {
  it.each([
    // The four default schedules.
    ["0 2 * * *", "cron(0 2 * * ? *)"],
    ["0 1 * * 0", "cron(0 1 ? * 1 *)"],
    ["0 0 1 * *", "cron(0 0 1 * ? *)"],
    ["0 3 * * *", "cron(0 3 * * ? *)"],
    // Day of week: numbers shifted, 7 as Sunday, names, ranges, lists, steps.
    ["0 1 * * 7", "cron(0 1 ? * 1 *)"],
    ["0 1 * * 6", "cron(0 1 ? * 7 *)"],
    ["30 4 * * 1-5", "cron(30 4 ? * 2-6 *)"],
    ["30 4 * * MON-FRI", "cron(30 4 ? * 2-6 *)"],
    ["30 4 * * mon-fri", "cron(30 4 ? * 2-6 *)"],
    ["0 6 * * SAT,SUN", "cron(0 6 ? * 1,7 *)"],
    ["0 6 * * 0,6", "cron(0 6 ? * 1,7 *)"],
    ["0 6 * * 5-7", "cron(0 6 ? * 1,6,7 *)"],
    ["0 6 * * FRI-SUN", "cron(0 6 ? * 1,6,7 *)"],
    ["0 6 * * 0-6", "cron(0 6 ? * 1-7 *)"],
    ["0 6 * * */2", "cron(0 6 ? * 1,3,5,7 *)"],
    ["0 6 * * 1-5/2", "cron(0 6 ? * 2,4,6 *)"],
    ["0 6 * * MON-SAT/2", "cron(0 6 ? * 2,4,6 *)"],
    ["0 6 * * 1,3-4,TUE", "cron(0 6 ? * 2-5 *)"],
    ["0 6 * * +MON", "cron(0 6 ? * 2 *)"],
    ["0 6 * * 1#2", "cron(0 6 ? * 2#2 *)"],
    ["0 6 * * FRI#L", "cron(0 6 ? * 6L *)"],
    ["0 6 * * 5L", "cron(0 6 ? * 6L *)"],
    // Day of month and month.
    ["0 0 1,15 * *", "cron(0 0 1,15 * ? *)"],
    ["0 0 1-7 * *", "cron(0 0 1-7 * ? *)"],
    ["0 0 */2 * *", "cron(0 0 1/2 * ? *)"],
    ["0 0 1-10/3 * *", "cron(0 0 1,4,7,10 * ? *)"],
    ["0 0 L * *", "cron(0 0 L * ? *)"],
    ["0 0 15W * *", "cron(0 0 15W * ? *)"],
    ["0 0 1 JAN,jul *", "cron(0 0 1 1,7 ? *)"],
    ["0 0 1 */3 *", "cron(0 0 1 1/3 ? *)"],
    ["0 0 ? * *", "cron(0 0 * * ? *)"],
    // Minutes and hours.
    ["*/15 * * * *", "cron(0/15 * * * ? *)"],
    ["5-59/20 8-18 * * *", "cron(5,25,45 8-18 * * ? *)"],
    ["0 0-23/6 * * *", "cron(0 0,6,12,18 * * ? *)"],
    ["0,30 9,17 * * 1-5", "cron(0,30 9,17 ? * 2-6 *)"],
    ["  0   2 * * *  ", "cron(0 2 * * ? *)"],
  ])("%j -> %s", (unix, expected) => {
    expect(eb(unix)).toBe(expected);
  });

  it("translates every default schedule from core/config.ts", () => {
    const { schedules } = loadConfig({});
    expect(Object.fromEntries(Object.entries(schedules).map(([k, v]) => [k, eb(v)]))).toEqual({
      daily: "cron(0 2 * * ? *)",
      weekly: "cron(0 1 ? * 1 *)",
      monthly: "cron(0 0 1 * ? *)",
      cleanup: "cron(0 3 * * ? *)",
    });
  });

  it("returns the time zone for EventBridge Scheduler, UTC by default", () => {
    expect(toEventBridgeCron("0 2 * * *", "Europe/Berlin")).toEqual({ expression: "cron(0 2 * * ? *)", timezone: "Europe/Berlin" });
    expect(toEventBridgeCron("0 2 * * *").timezone).toBe("UTC");
  });

  it("refuses day-of-month AND day-of-week, which Unix cron ORs and EventBridge cannot express", () => {
    const run = () => toEventBridgeCron("0 2 1 * 1", "UTC", { name: "BACKUP_WEEKLY_SCHEDULE" });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/BACKUP_WEEKLY_SCHEDULE "0 2 1 \* 1".*EITHER matches.*one of the two must be "\?"/);
    expect(run).toThrow(/"0 2 1 \* \*" or "0 2 \* \* 1", or run two schedules/);
    expect(() => eb("0 2 1 * +MON")).toThrow(/BOTH/);
  });

  it.each([
    ["0 2 * *", /expected 5 fields/],
    ["0 2 * * * *", /expected 5 fields/],
    ["@daily", /expected 5 fields/],
    ["60 2 * * *", /not valid/],
    ["0 2 * * 8", /not valid/],
    ["0 2 * * 5-1", /not valid/],
    ["5/20 * * * *", /not valid/],
    ["a b c d e", /not valid/],
    ["0 2 * * 1#2,3", /# and L only on their own/],
    ["0 2 L,15 * *", /L and W only on their own/],
  ])("rejects %j with a message that says why", (expr, message) => {
    expect(() => toEventBridgeCron(expr, "UTC", { name: "BACKUP_DAILY_SCHEDULE" })).toThrow(message);
    expect(() => toEventBridgeCron(expr, "UTC", { name: "BACKUP_DAILY_SCHEDULE" })).toThrow(/^translate BACKUP_DAILY_SCHEDULE/);
  });

  it("rejects a time zone that is not an IANA zone", () => {
    expect(() => toEventBridgeCron("0 2 * * *", "Mars/Olympus")).toThrow(/time zone "Mars\/Olympus".*check TZ/);
  });
});
