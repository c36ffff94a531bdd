// Opt-in phase timings for a restore (COLAB_RESTORE_TIMING=1): one stderr line per phase, for profiling, never for tests.

export interface PhaseTimer {
  /** Ends the phase running since the last mark (or the start) and names it. */
  mark(phase: string): void;
}

const silent: PhaseTimer = { mark() {} };

export function restoreTimer(env: NodeJS.ProcessEnv = process.env): PhaseTimer {
  if (!env.COLAB_RESTORE_TIMING) return silent;
  const start = performance.now();
  let last = start;
  return {
    mark(phase) {
      const now = performance.now();
      process.stderr.write(`restore timing ${phase}: ${((now - last) / 1000).toFixed(2)} s (at ${((now - start) / 1000).toFixed(2)} s)\n`);
      last = now;
    },
  };
}
