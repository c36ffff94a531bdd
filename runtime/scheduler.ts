// The in-process scheduler of the local runtime: the four cron schedules in TZ, each firing a job through the runner.
import { Cron } from "croner";
import { runSchedule } from "../core/scheduled.ts";
import type { Engine } from "../core/engine.ts";
import { ConflictError, errorMessage } from "../core/errors.ts";
import type { LocalJobRunner } from "../core/jobs/local-runner.ts";
import type { ScheduledType } from "../core/manifest.ts";
import type { EventBus } from "../core/events/bus.ts";

export class Scheduler {
  private crons: Cron[] = [];
  initialized = false;

  constructor(private readonly engine: Engine, private readonly runner: LocalJobRunner, private readonly bus: EventBus) {}

  start(): void {
    const { schedules, timeZone } = this.engine.config;
    const backup = (type: ScheduledType) => (self: Cron) => this.runBackup(type, self.currentRun() ?? new Date());
    const cleanup = (self: Cron) => this.runCleanup(self.currentRun() ?? new Date());
    this.crons = [
      new Cron(schedules.daily, { timezone: timeZone, name: "daily", protect: true }, backup("daily")),
      new Cron(schedules.weekly, { timezone: timeZone, name: "weekly", protect: true }, backup("weekly")),
      new Cron(schedules.monthly, { timezone: timeZone, name: "monthly", protect: true }, backup("monthly")),
      new Cron(schedules.cleanup, { timezone: timeZone, name: "cleanup", protect: true }, cleanup),
    ];
    this.initialized = true;
  }

  stop(): void {
    for (const c of this.crons) c.stop();
    this.crons = [];
    this.initialized = false;
  }

  nextRuns(): Record<string, string | null> {
    return Object.fromEntries(this.crons.map((c) => [c.name ?? "?", c.nextRun()?.toISOString() ?? null]));
  }

  /** Waits for a running job rather than skipping: a slot that fires during a manual backup still gets its backup. */
  async runBackup(type: ScheduledType, scheduledAt: Date): Promise<void> {
    try {
      // Another job may slip in between idle() and submit; wait again rather than report a failure.
      for (let attempt = 0; ; attempt++) {
        await this.runner.idle();
        try {
          await this.runner.submitBackup({ type, scheduledAt, actor: "scheduler" });
          break;
        } catch (err) {
          if (!(err instanceof ConflictError) || attempt >= 100) throw err;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      await this.runner.idle();
    } catch (err) {
      this.engine.log.error("scheduled backup could not start", { type, error: errorMessage(err) });
      await this.bus.publish("backup.failed", { version: 1, type, error: { code: (err as { code?: string }).code ?? "internal_error", message: errorMessage(err) } });
    }
  }

  /** The same step the cleanup function runs on AWS, including its cleanup.completed event. */
  async runCleanup(scheduledAt: Date = new Date()): Promise<void> {
    try {
      await this.runner.idle();
      await runSchedule(this.engine, { kind: "cleanup", scheduledAt }, this.bus);
    } catch (err) {
      this.engine.log.error("scheduled cleanup failed", { error: errorMessage(err) });
    }
  }
}
