import { describe, expect, it } from "vitest";
import { listBackups } from "../core/catalog.ts";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { InProcessBus } from "../core/events/bus.ts";
import { makeCrm, makeTestEngine } from "../test/helpers/crm.ts";
import { Scheduler } from "./scheduler.ts";

describe("Scheduler", () => {
  it("reports the next run of each schedule in TZ once started, and none once stopped", () => {
    const engine = makeTestEngine(makeCrm().root, undefined, { TZ: "Europe/Berlin" });
    const s = new Scheduler(engine, new LocalJobRunner(engine), new InProcessBus(engine.log));
    expect(s.initialized).toBe(false);
    s.start();
    try {
      expect(s.initialized).toBe(true);
      const next = s.nextRuns();
      expect(Object.keys(next)).toEqual(["daily", "weekly", "monthly", "cleanup"]);
      // 02:00 in Berlin is 01:00 UTC in winter, 00:00 UTC in summer.
      expect(next.daily).toMatch(/T0[01]:00:00\.000Z$/);
    } finally {
      s.stop();
    }
    expect(s.nextRuns()).toEqual({});
  });

  it("makes one backup for a slot even when it fires twice, and waits for a running job instead of skipping", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const runner = new LocalJobRunner(engine);
    const bus = new InProcessBus(engine.log);
    const events: string[] = [];
    bus.subscribe({ source: ["colab-backup"], "detail-type": ["backup.failed"] }, (e) => void events.push(e["detail-type"]));
    const s = new Scheduler(engine, runner, bus);
    await runner.submitBackup({ type: "manual", actor: "admin" });
    const slot = new Date("2026-11-26T02:00:00Z");
    await Promise.all([s.runBackup("daily", slot), s.runBackup("daily", slot)]);
    const daily = await listBackups(engine.storage, "daily");
    expect(daily).toHaveLength(1);
    expect(daily[0]!.scheduledAt).toBe(slot.toISOString());
    expect(await listBackups(engine.storage, "manual")).toHaveLength(1);
    // The duplicate is not a failure: nothing announced one.
    await bus.drain();
    expect(events).toEqual([]);
  });
});
