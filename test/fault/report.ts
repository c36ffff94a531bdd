// vitest globalSetup for the fault suite: empties the results file before the run and prints its table after it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { RESULTS_FILE, type FaultResult } from "./record.ts";

export function readResults(file = RESULTS_FILE): FaultResult[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as FaultResult];
      } catch {
        return []; // a line cut by a killed worker: the table shows the rest
      }
    });
}

/** A fixed-width table, one row per recorded fault, with totals; plain ASCII so every CI log shows it as is. */
export function formatTable(results: FaultResult[]): string {
  const head = ["suite", "fault", "trials", "held", "lost", "note"];
  const rows = results
    .slice()
    .sort((a, b) => a.suite.localeCompare(b.suite))
    .map((r) => [r.suite, r.fault, String(r.trials), String(r.held), String(r.lost), r.note ?? ""]);
  const sum = (k: "trials" | "held" | "lost") => String(results.reduce((n, r) => n + r[k], 0));
  rows.push(["TOTAL", `${results.length} faults`, sum("trials"), sum("held"), sum("lost"), ""]);
  const cap = [14, 52, 6, 6, 6, 110];
  const cut = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "~" : s);
  const widths = head.map((h, i) => Math.min(cap[i]!, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 2 && i <= 4 ? cut(c, widths[i]!).padStart(widths[i]!) : cut(c, widths[i]!).padEnd(widths[i]!))).join(" | ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("-+-");
  return [line(head), rule, ...rows.slice(0, -1).map(line), rule, line(rows.at(-1)!)].join("\n");
}

export default function setup(): () => void {
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, "");
  return () => {
    const results = readResults();
    if (results.length === 0) return;
    process.stdout.write(`\nFault suite: what was tried and what held (${RESULTS_FILE})\n${formatTable(results)}\n\n`);
  };
}
