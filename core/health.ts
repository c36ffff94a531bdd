// The dead-man's switch verdict: healthy when a recent scheduled-kind backup exists and the store needs no person.
import type { CatalogScan } from "./catalog-scan.ts";
import type { StatusReport } from "./status.ts";
import { ORPHAN_GRACE_MS } from "./store-leftovers.ts";

export const DEFAULT_HEALTH_MAX_AGE_HOURS = 26;
// pre-restore backups are made by restores, not by the schedule, so they must not keep the switch quiet.
const HEALTH_TYPES = new Set(["daily", "weekly", "monthly", "manual"]);

export interface HealthVerdict {
  healthy: boolean;
  maxAgeHours: number;
  /** Each reason says what is wrong and what to do; empty when healthy. */
  reasons: string[];
}

/** Pure: the same inputs always give the same verdict, so the CLI's `status` and the API's agree. */
export function healthVerdict(input: {
  scan: Pick<CatalogScan, "backups" | "damaged" | "orphans">;
  interrupted: StatusReport["interrupted"];
  now: Date;
  maxAgeHours?: number;
}): HealthVerdict {
  const maxAgeHours = input.maxAgeHours ?? DEFAULT_HEALTH_MAX_AGE_HOURS;
  const newest = input.scan.backups.find((b) => HEALTH_TYPES.has(b.type));
  const reasons: string[] = [];
  if (!newest) {
    reasons.push("no successful backup exists yet; run one now");
  } else {
    const ageHours = (input.now.getTime() - Date.parse(newest.createdAt)) / 3_600_000;
    if (ageHours > maxAgeHours) {
      reasons.push(`the newest successful backup (${newest.id}) is ${Math.floor(ageHours)} hours old, over the ${maxAgeHours}-hour limit; check the scheduler and the last job's error`);
    }
  }
  const { interrupted } = input;
  if (interrupted) reasons.push(`an interrupted ${interrupted.operation} (started ${interrupted.startedAt}) is waiting to be ended: ${interrupted.detail}`);
  reasons.push(...storeProblems(input.scan));
  return { healthy: reasons.length === 0, maxAgeHours, reasons };
}

/** Damaged manifests and orphan archives need a person: each is a backup that may be lost, so the switch speaks up. */
function storeProblems(scan: Pick<CatalogScan, "damaged" | "orphans">): string[] {
  const reasons: string[] = [];
  const { damaged, orphans } = scan;
  if (damaged.length) {
    reasons.push(`${damaged.length} damaged manifest${damaged.length === 1 ? "" : "s"} in the store (${damaged.map((d) => `${d.key}: ${d.reason}`).join("; ")}); repair or delete ${damaged.length === 1 ? "it" : "them"} by id`);
  }
  if (orphans.length) {
    reasons.push(`${orphans.length} archive${orphans.length === 1 ? "" : "s"} without a manifest (${orphans.map((o) => o.key).join(", ")}); rescue or delete ${orphans.length === 1 ? "it" : "them"} by id, or cleanup removes ${orphans.length === 1 ? "it" : "them"} after ${ORPHAN_GRACE_MS / 86_400_000} days`);
  }
  return reasons;
}
