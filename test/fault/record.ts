// Fault-suite bookkeeping: each fault test appends one JSON line (what it tried, what held) for report.ts to print as a table.
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const RESULTS_FILE = path.join(fileURLToPath(new URL("../..", import.meta.url)), "test-artifacts", "fault-results.jsonl");

export interface FaultResult {
  /** The fault class (one test file), e.g. "kill-backup". */
  suite: string;
  /** What exactly was done, e.g. "SIGKILL at a random point". */
  fault: string;
  trials: number;
  /** Trials in which every guarantee held. */
  held: number;
  /** Trials that lost or mixed data, or broke a guarantee (the target is 0). */
  lost: number;
  note?: string;
}

/** Call before asserting, so a failing run still shows in the table what was tried and what broke. */
export function recordFault(result: FaultResult): void {
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  // One short write per line: O_APPEND keeps lines from parallel test files whole.
  appendFileSync(RESULTS_FILE, JSON.stringify(result) + "\n");
}
