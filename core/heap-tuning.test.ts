import { execFileSync } from "node:child_process";
import path from "node:path";
import v8 from "node:v8";
import { afterEach, describe, expect, it, vi } from "vitest";
import { watchHeapGrowth } from "./heap-tuning.ts";
import { collectNow } from "./v2/thread-gc.ts";

const MiB = 1024 * 1024;

describe("watchHeapGrowth", () => {
  let stop: (() => void) | undefined;
  afterEach(() => {
    stop?.();
    vi.useRealTimers();
  });

  it("collects only once the heap grew by the step and by the factor since its last collection", () => {
    vi.useFakeTimers();
    let used = 40 * MiB;
    const collected: number[] = [];
    stop = watchHeapGrowth({ used: () => used, collect: () => { collected.push(used); used = Math.round(used * 0.7); }, stepBytes: 16 * MiB, factor: 1.5, everyMs: 100 });
    used = 55 * MiB; // +15 MiB: under the step
    vi.advanceTimersByTime(100);
    used = 59 * MiB; // +19 MiB but under 1.5 x 40
    vi.advanceTimersByTime(100);
    expect(collected).toEqual([]);
    used = 61 * MiB; // both: collected, and the base is what is left (42.7 MiB)
    vi.advanceTimersByTime(100);
    expect(collected).toEqual([61 * MiB]);
    used = 63 * MiB; // under 1.5 x 42.7 = 64.05
    vi.advanceTimersByTime(100);
    expect(collected).toHaveLength(1);
    used = 65 * MiB;
    vi.advanceTimersByTime(100);
    expect(collected).toEqual([61 * MiB, 65 * MiB]);
  });

  it("a small heap collects once it grew by the step, not at every half", () => {
    vi.useFakeTimers();
    let used = 4 * MiB;
    const collect = vi.fn(() => (used = 4 * MiB));
    stop = watchHeapGrowth({ used: () => used, collect, stepBytes: 16 * MiB, factor: 1.5, everyMs: 100 });
    used = 19 * MiB; // nearly five times, under the step
    vi.advanceTimersByTime(300);
    expect(collect).not.toHaveBeenCalled();
    used = 21 * MiB;
    vi.advanceTimersByTime(100);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it("on V8's real heap, promoted garbage is collected by the watch and the heap in use drops", async () => {
    collectNow();
    const used = () => v8.getHeapStatistics().used_heap_size;
    const drops: number[] = [];
    stop = watchHeapGrowth({
      used,
      collect: () => {
        const before = used();
        collectNow();
        drops.push(before - used());
      },
      stepBytes: 16 * MiB, factor: 1.5, everyMs: 5,
    });
    // Batches of ~6 MiB of small objects, each kept across a few ticks (so scavenges promote it) and then dropped.
    let batch: { i: number; s: string }[] = [];
    for (let round = 0; round < 20; round++) {
      batch = Array.from({ length: 60_000 }, (_, i) => ({ i, s: `record ${round} ${i}` }));
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(batch).toHaveLength(60_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(drops.length).toBeGreaterThan(0);
    // What it collected was garbage: each collection freed most of the step it was started by.
    expect(Math.max(...drops)).toBeGreaterThan(8 * MiB);
  });
});

describe("tuneHeap", () => {
  const young = (arg: string) => {
    const out = execFileSync(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "..", "test", "fixtures", "young-generation.ts"), arg], { encoding: "utf8", timeout: 60_000 });
    return (JSON.parse(out) as { youngMiB: number }).youngMiB;
  };

  it("holds the main heap's young generation small, also after a worker thread started (which resets V8's flags)", () => {
    const tuned = young("tuned");
    const plain = young("plain");
    // V8 grows it to 2 x 16 MiB under this churn; held, it stays at its first size or a doubling of it.
    expect(plain).toBeGreaterThanOrEqual(32);
    expect(tuned).toBeLessThanOrEqual(8);
  }, 120_000);
});

