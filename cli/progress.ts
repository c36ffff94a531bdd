// A one-line progress bar on stderr, shown only on a terminal; --json and pipes get none.
import type { Progress } from "../core/engine.ts";

const LABELS: Record<Progress["phase"], string> = {
  snapshot: "Snapshotting database",
  hash: "Reading files",
  archive: "Archiving",
  verify: "Verifying",
  extract: "Extracting",
  swap: "Swapping in",
  "pre-restore": "Backing up current data",
};

export function humanBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;
}

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
      const amount = p.phase === "swap" ? `${p.done}/${p.total}` : p.total > 0 ? `${humanBytes(p.done)} / ${humanBytes(p.total)}` : "";
      stream.write(`\r\x1b[2K${LABELS[p.phase].padEnd(24)} ${bar} ${amount}`);
    },
    done() {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}
