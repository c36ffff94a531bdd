// Progress on stderr, shown only on a terminal (--json and pipes get none): one line per phase with bytes, speed and ETA.
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
const WIDTH = 24;

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function label(p: Progress): string {
  // The restore's pre-restore backup reports its own phases; say which one it is in.
  return p.phase === "pre-restore" && p.step ? `${LABELS["pre-restore"]}: ${LABELS[p.step].toLowerCase()}` : LABELS[p.phase];
}

/** One line for a phase: a bar when the total is known, bytes (or steps for a swap), speed, and ETA while running or time taken once done. */
export function progressLine(p: Progress, elapsedMs: number, final: boolean): string {
  const seconds = elapsedMs / 1000;
  const parts = [label(p).padEnd(WIDTH + 14)];
  const counts = p.phase === "swap";
  if (p.total > 0) {
    const ratio = Math.min(1, p.done / p.total);
    parts.push(`[${"#".repeat(Math.round(ratio * 20)).padEnd(20, ".")}] ${(ratio * 100).toFixed(0).padStart(3)}%`);
    parts.push(counts ? `${p.done}/${p.total} components` : `${humanSize(p.done)} / ${humanSize(p.total)}`);
    const rate = elapsedMs >= 1 ? p.done / seconds : 0;
    if (!counts && rate > 0) parts.push(`${humanSize(Math.round(rate))}/s`);
    if (final || p.done >= p.total) parts.push(`in ${seconds.toFixed(1)} s`);
    else parts.push(rate > 0 ? `ETA ${formatDuration((p.total - p.done) / rate)}` : "ETA --");
  } else {
    // No total (a snapshot, reading files, v2's store-as-you-go): bytes so far if any, and that time passes.
    if (p.done > 0) parts.push(humanSize(p.done), ...(elapsedMs >= 1 ? [`${humanSize(Math.round(p.done / seconds))}/s`] : []));
    parts.push(final ? `done in ${seconds.toFixed(1)} s` : `${seconds.toFixed(1)} s`);
  }
  return parts.join("  ");
}

export function progressBar(enabled: boolean, stream: NodeJS.WriteStream = process.stderr, clock: () => number = Date.now) {
  let current: { key: string; started: number; last: Progress } | null = null;
  let drawn = 0;
  const draw = (final: boolean) => {
    if (!current) return;
    const line = progressLine(current.last, clock() - current.started, final);
    const columns = stream.columns && stream.columns > 20 ? stream.columns - 1 : 120;
    stream.write(`\r\x1b[2K${line.slice(0, columns)}${final ? "\n" : ""}`);
  };
  return {
    update(p: Progress) {
      if (!enabled) return;
      const key = `${p.phase}/${p.step ?? ""}`;
      const now = clock();
      // A finished phase keeps its line, with the time it took; the next phase draws below it.
      if (current?.key !== key) {
        // A restore announces its pre-restore backup before that backup reports its own steps: the steps replace it.
        const announced = current?.last.phase === "pre-restore" && !current.last.step && p.phase === "pre-restore";
        if (!announced) draw(true);
        current = { key, started: now, last: p };
        drawn = 0;
      }
      current.last = p;
      if (now - drawn < 100 && !(p.total > 0 && p.done >= p.total)) return;
      drawn = now;
      draw(false);
    },
    done() {
      draw(true);
      current = null;
    },
  };
}
