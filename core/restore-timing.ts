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
  // CPU of every thread of the process (workers, libuv's pool): on a loaded machine wall times swing, CPU much less.
  let lastCpu = process.cpuUsage();
  process.stderr.write(`restore timing process start: ${(start / 1000).toFixed(2)} s (cpu ${(lastCpu.user / 1e6).toFixed(2)} user + ${(lastCpu.system / 1e6).toFixed(2)} sys)\n`);
  return {
    mark(phase) {
      const now = performance.now();
      const cpu = process.cpuUsage(lastCpu);
      // Memory at the mark and the process's peak so far: which phase sets a restore's peak RSS.
      const mem = process.memoryUsage();
      const mib = (n: number) => (n / 1048576).toFixed(0);
      process.stderr.write(`restore timing ${phase}: ${((now - last) / 1000).toFixed(2)} s (at ${((now - start) / 1000).toFixed(2)} s, cpu ${(cpu.user / 1e6).toFixed(2)} user + ${(cpu.system / 1e6).toFixed(2)} sys; rss ${mib(mem.rss)} MiB, heap ${mib(mem.heapUsed)} of ${mib(mem.heapTotal)}, external ${mib(mem.external)}, peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)})\n`);
      last = now;
      lastCpu = process.cpuUsage();
    },
  };
}
