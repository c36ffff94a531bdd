// A one-line progress bar on stderr, shown only on a terminal; --json and pipes get none.
import type { Progress } from "../core/engine.ts";
import { humanSize } from "../core/units.ts";

const LABELS: Record<Progress["phase"], string> = {
  snapshot: "Snapshotting database",
  hash: "Reading files",
  archive: "Archiving",
  verify: "Verifying",
  extract: "Extracting",
  swap: "Swapping in",
  "pre-restore": "Backing up current data",
};


export function progressBar(enabled: boolean, stream: NodeJS.WriteStream = process.stderr) {
  let last = 0;
  let shown = false;
  return {
    update(p: Progress) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      shown = true;
      const width = 30;
      const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
      const bar = p.total > 0 ? `[${"#".repeat(Math.round(ratio * width)).padEnd(width, ".")}] ${(ratio * 100).toFixed(0).padStart(3)}%` : "";
      const amount = p.phase === "swap" ? `${p.done}/${p.total}` : p.total > 0 ? `${humanSize(p.done)} / ${humanSize(p.total)}` : "";
      stream.write(`\r\x1b[2K${LABELS[p.phase].padEnd(24)} ${bar} ${amount}`);
    },
    done() {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}
