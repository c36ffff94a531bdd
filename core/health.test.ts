// The health verdict as a table: age limits, pre-restore backups, interrupted operations and store damage.
import { describe, expect, it } from "vitest";
import type { BackupSummary } from "./catalog-scan.ts";
import { healthVerdict } from "./health.ts";

const now = new Date("2026-11-26T12:00:00Z");
const backup = (type: string, createdAt: string) => ({ id: `${type}-x`, type, createdAt }) as unknown as BackupSummary;
const empty = { backups: [], damaged: [], orphans: [] };

describe("healthVerdict", () => {
  it.each([
    ["a recent daily backup", [backup("daily", "2026-11-26T02:00:00Z")], 26, true, []],
    ["no backup at all", [], 26, false, [/no successful backup exists yet/]],
    ["only a pre-restore backup, which the schedule does not make", [backup("pre-restore", "2026-11-26T11:00:00Z")], 26, false, [/no successful backup/]],
    ["a backup older than the limit", [backup("manual", "2026-11-25T02:00:00Z")], 26, false, [/\(manual-x\) is 34 hours old, over the 26-hour limit/]],
    ["the same backup with a longer limit", [backup("manual", "2026-11-25T02:00:00Z")], 48, true, []],
  ] as const)("%s", (_name, backups, maxAgeHours, healthy, reasons) => {
    const v = healthVerdict({ scan: { ...empty, backups: [...backups] }, interrupted: null, now, maxAgeHours });
    expect(v.healthy).toBe(healthy);
    expect(v.maxAgeHours).toBe(maxAgeHours);
    expect(v.reasons).toHaveLength(reasons.length);
    reasons.forEach((r, i) => expect(v.reasons[i]).toMatch(r));
  });

  it("speaks up for an interrupted operation, damaged manifests and orphan archives", () => {
    const v = healthVerdict({
      scan: {
        backups: [backup("daily", "2026-11-26T02:00:00Z")],
        damaged: [{ key: "daily/a.json", id: "a", reason: "it is not valid JSON" }],
        orphans: [{ key: "weekly/b.tar.gz", id: "b", sizeBytes: 1, modified: "2026-11-20T00:00:00Z" }, { key: "weekly/c.tar.gz", id: "c", sizeBytes: 1, modified: "2026-11-20T00:00:00Z" }],
      },
      interrupted: { operation: "restore", startedAt: "2026-11-26T10:00:00Z", host: "h", pid: 1, detail: "the next command rolls it back" },
      now,
    });
    expect(v).toMatchObject({ healthy: false, maxAgeHours: 26 });
    expect(v.reasons).toEqual([
      expect.stringMatching(/^an interrupted restore \(started 2026-11-26T10:00:00Z\) is waiting to be ended: the next command rolls it back$/),
      expect.stringMatching(/^1 damaged manifest in the store \(daily\/a\.json: it is not valid JSON\); repair or delete it by id$/),
      expect.stringMatching(/^2 archives without a manifest \(weekly\/b\.tar\.gz, weekly\/c\.tar\.gz\); rescue or delete them by id/),
    ]);
  });
});
