// Benchmark output: the ratio table, the machine and input description, and the small JSON results file.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Row {
  tool: string;
  operation: "backup" | "restore";
  /** The measured command, with the data and temp folders shown as <crm> and <tmp>. */
  command: string;
  wallS: number;
  cpuS: number;
  peakRssKiB: number;
  archiveBytes?: number;
  /** Cores busy with other work on the machine during the step; null where unknown. */
  bgCores: number | null;
  /** Wall seconds of every repetition; the row shows the median one. */
  runsWallS: number[];
}

export interface Machine {
  nproc: number;
  cpu: string;
  memGiB: number;
  kernel: string;
  node: string;
  tar: string;
  gzip: string;
  pigz: string | null;
  restic: string | null;
}

export interface Input {
  dir: string;
  scale: number;
  totalBytes: number;
  files: number;
  databaseBytes: number;
  uploadsBytes: number;
  uploadsFiles: number;
  logsBytes: number;
  logsFiles: number;
  otherBytes: number;
}

export const OURS = "colab-backup";
const MB = 1e6;
const MiB = 1 << 20;

export interface RatedRow extends Row {
  mbPerS: number;
  peakRssMiB: number;
  archiveMiB: number | null;
  /** ours / this row, same operation; null on our own row. */
  timeRatio: number | null;
  memRatio: number | null;
}

export function rate(rows: Row[], input: Input): RatedRow[] {
  return rows.map((r) => {
    const ours = rows.find((o) => o.tool === OURS && o.operation === r.operation);
    const peer = r.tool !== OURS && ours !== undefined;
    return {
      ...r,
      mbPerS: input.totalBytes / MB / r.wallS,
      peakRssMiB: r.peakRssKiB / 1024,
      archiveMiB: r.archiveBytes === undefined ? null : r.archiveBytes / MiB,
      timeRatio: peer ? ours.wallS / r.wallS : null,
      memRatio: peer ? ours.peakRssKiB / r.peakRssKiB : null,
    };
  });
}

const f = (n: number | null, digits = 2) => (n === null ? "—" : n.toFixed(digits));

export function formatTable(rows: RatedRow[]): string {
  const head = ["tool", "operation", "wall s", "cpu s", "MB/s", "peak RSS MiB", "archive MiB", "time ours/peer", "mem ours/peer", "bg cores"];
  const body = rows.map((r) => [r.tool, r.operation, f(r.wallS), f(r.cpuS), f(r.mbPerS, 1), f(r.peakRssMiB, 1), f(r.archiveMiB, 1), f(r.timeRatio), f(r.memRatio), f(r.bgCores)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

export function formatMachine(m: Machine): string {
  return [
    `machine: nproc ${m.nproc}, ${m.cpu}, ${m.memGiB.toFixed(1)} GiB RAM, Linux ${m.kernel}`,
    `node ${m.node}; ${m.tar}; ${m.gzip}; pigz: ${m.pigz ?? "not installed"}; restic: ${m.restic ?? "not installed"}`,
  ].join("\n");
}

export function formatInput(i: Input): string {
  const mb = (b: number) => (b / MB).toFixed(1);
  return `input: ${i.dir} (scale ${i.scale}): ${mb(i.totalBytes)} MB in ${i.files} files = database ${mb(i.databaseBytes)} MB, ` +
    `uploads ${mb(i.uploadsBytes)} MB (${i.uploadsFiles} files), logs ${mb(i.logsBytes)} MB (${i.logsFiles} files), config and other ${mb(i.otherBytes)} MB`;
}

export interface Results {
  date: string;
  scale: number;
  repeat: number;
  cache: string;
  machine: Machine;
  input: Omit<Input, "dir">;
  rows: RatedRow[];
  restoreSplit: { preRestoreS: number; restoreS: number; timeRatioVsTarGzip: number | null } | null;
  notes: string[];
}

export function writeResults(file: string, results: Results): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const round = (_k: string, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v);
  writeFileSync(file, JSON.stringify(results, round, 2) + "\n");
}
