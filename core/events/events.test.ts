import { describe, expect, it } from "vitest";
import { silentLogger } from "../engine.ts";
import { InProcessBus, envelope } from "./bus.ts";
import { CLEANUP_PATTERN, NOTIFIER_PATTERN, WORKER_PATTERN, matches } from "./patterns.ts";
import { EVENT_SOURCE, EVENT_TYPES, parseEvent } from "./schema.ts";

describe("events", () => {
  it("has the eleven lifecycle events of the original design plus verify.requested, cleanup.requested and export.requested, each routed to exactly the notifier, the worker or the cleanup function", () => {
    expect(EVENT_TYPES.sort()).toEqual(
      ["backup.requested", "backup.started", "backup.succeeded", "backup.failed", "restore.requested", "restore.succeeded", "restore.failed", "restore.rolled-back", "cleanup.completed", "verify.failed", "system.initialized", "verify.requested", "cleanup.requested", "export.requested"].sort(),
    );
    for (const t of EVENT_TYPES) {
      const e = { source: EVENT_SOURCE, "detail-type": t };
      const routes = [matches(NOTIFIER_PATTERN, e), matches(WORKER_PATTERN, e), matches(CLEANUP_PATTERN, e)].filter(Boolean).length;
      expect(routes, t).toBe(t === "backup.started" ? 0 : 1);
    }
    expect(matches(NOTIFIER_PATTERN, { source: "someone-else", "detail-type": "backup.failed" })).toBe(false);
  });

  it("validates details against their versioned schema on publish and on receipt", () => {
    expect(() => envelope("backup.failed", { version: 1, type: "daily", error: { code: "x", message: "y" } })).not.toThrow();
    expect(() => envelope("backup.failed", { version: 2, type: "daily", error: { code: "x", message: "y" } } as never)).toThrow();
    expect(() => envelope("backup.failed", { version: 1, type: "hourly", error: { code: "x", message: "y" } } as never)).toThrow();
    const e = envelope("cleanup.completed", { version: 1, removed: ["a"], freedBytes: 5, kept: 3, leftoversRemoved: [] });
    expect(parseEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
    expect(() => parseEvent({ ...e, source: "evil" })).toThrow();
    expect(() => parseEvent({ ...e, detail: { version: 1 } })).toThrow();
  });

  it("delivers in-process only to matching subscribers", async () => {
    const bus = new InProcessBus(silentLogger);
    const got: string[] = [];
    bus.subscribe(NOTIFIER_PATTERN, (e) => void got.push(`n:${e["detail-type"]}`));
    bus.subscribe(WORKER_PATTERN, (e) => void got.push(`w:${e["detail-type"]}`));
    await bus.publish("backup.requested", { version: 1, jobId: "j", backupId: "b", type: "manual", actor: "a" });
    await bus.publish("verify.failed", { version: 1, backupId: "b", error: "bad" });
    await bus.drain();
    expect(got).toEqual(["w:backup.requested", "n:verify.failed"]);
  });
});
