// Where a v2 backup's time goes: named wall spans and summed costs, printed to stderr only with COLAB_BACKUP_PHASES=1.

/**
 * Off by default and nearly free then (one boolean test per call). bench/profile.ts turns it on, so a profile shows which
 * phases overlap and which one the backup waits on; the sums (e.g. deflate inside the worker threads) are CPU seen from
 * where the work runs, which a main-thread CPU profile cannot show.
 */
const enabled = process.env.COLAB_BACKUP_PHASES === "1";
const spans = new Map<string, { start: number; end: number; total: number; count: number }>();

/** Adds `ms` to the phase `name` (a cost summed over many small steps, possibly overlapping). */
export function addPhase(name: string, ms: number): void {
  if (!enabled) return;
  const now = performance.now(); // since the process started, so startup before this module shows too
  const s = spans.get(name);
  if (s) {
    s.total += ms;
    s.count++;
    s.end = now;
  } else spans.set(name, { start: now - ms, end: now, total: ms, count: 1 });
}

/** Times `fn` as one step of phase `name`. */
export async function timePhase<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  if (!enabled) return fn();
  const t = performance.now();
  try {
    return await fn();
  } finally {
    addPhase(name, performance.now() - t);
  }
}

export const phasesEnabled = (): boolean => enabled;

/** One line per phase: when it first started and last ended (s since the process began), its summed ms and step count. */
export function reportPhases(): void {
  if (!enabled) return;
  const rows = [...spans].sort((a, b) => a[1].start - b[1].start)
    .map(([n, s]) => `  ${n.padEnd(28)} ${(s.start / 1000).toFixed(2).padStart(6)} → ${(s.end / 1000).toFixed(2).padStart(6)} s  sum ${(s.total / 1000).toFixed(2).padStart(6)} s  ×${s.count}`);
  process.stderr.write(`phases (start → end, summed time, steps):\n${rows.join("\n")}\n`);
  spans.clear();
}
