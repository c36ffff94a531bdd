// The four schedules: EventBridge Scheduler (sst.aws.CronV2) from BACKUP_*_SCHEDULE through core/eventbridge-cron.ts, in TZ.
import { config } from "./config.ts";

/**
 * EventBridge Scheduler, not an EventBridge rule (sst.aws.Cron): rules evaluate cron in UTC only, Scheduler
 * takes TZ (with daylight-saving handled), like the local runtime's scheduler does.
 *
 * The target input is shaped like an EventBridge "Scheduled Event", so a handler can parse both:
 *   { "detail-type": "Scheduled Event", source: "aws.scheduler", id, time, resources: [scheduleArn],
 *     detail: { type: "daily" | "weekly" | "monthly" | "cleanup", schedule: "0 2 * * *", timeZone } }
 * `time` is the slot's scheduled time (Scheduler fills in <aws.scheduler.scheduled-time>), identical on every
 * retry and duplicate delivery: the backup handler passes it as scheduledAt, which makes a second delivery
 * of the same slot a no-op.
 */
export function schedules(targets: { backup: sst.aws.Function; cleanup: sst.aws.Function }) {
  const jobs = [
    ["DailyBackup", "daily", targets.backup],
    ["WeeklyBackup", "weekly", targets.backup],
    ["MonthlyBackup", "monthly", targets.backup],
    ["Cleanup", "cleanup", targets.cleanup],
  ] as const;

  return Object.fromEntries(
    jobs.map(([name, type, fn]) => {
      const s = config.schedules[type];
      const cron = new sst.aws.CronV2(name, {
        function: fn,
        schedule: s.expression,
        timezone: s.timezone,
        // Scheduler retries only a failed hand-over to Lambda; the run itself is retried by the function's own settings.
        retries: 3,
        event: {
          version: "0",
          id: "<aws.scheduler.execution-id>",
          "detail-type": "Scheduled Event",
          source: "aws.scheduler",
          time: "<aws.scheduler.scheduled-time>",
          resources: ["<aws.scheduler.schedule-arn>"],
          detail: { type, schedule: s.unix, timeZone: s.timezone },
        },
      });
      return [type, cron];
    }),
  ) as Record<(typeof jobs)[number][1], sst.aws.CronV2>;
}
