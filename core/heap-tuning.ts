// How a long-running command keeps its memory down: V8's young generation held small, and dead old-generation data
// collected early. Set once by the entry points (CLI, Lambda functions), kept through every worker thread's start.
import v8 from "node:v8";
import { Worker, type WorkerOptions } from "node:worker_threads";
import { collectNow } from "./v2/thread-gc.ts";

/**
 * V8 doubles a heap's young generation up to 16 MiB per semi-space (32 MiB in use with both halves) whenever
 * scavenges keep much, and a backup's stream of pieces and records does that at once. Held at its first size
 * instead (the growth factor read at each growth: 1), the main heap's young generation stays at 2-8 MiB:
 * scale-1 first backup 176-189 -> 150 MiB peak RSS, restore 185-197 -> 160 MiB, scale-4 restore 259-260 -> 222-239
 * MiB, at the same times (backup 5.78-6.05 s against 5.80-6.11 s, restore 2.74-3.09 s against 2.68-2.97 s).
 * V8's flags are the process's, and Node sets them again while a worker thread starts, which undoes this: every
 * thread is started with startThread, which sets it again once the thread is online. A command-line
 * `--max-semi-space-size` would do the same once, but a CLI run by `npx` or a Lambda function has no command line.
 */
const HOLD_YOUNG_GENERATION = "--semi-space-growth-factor=1";

let tuned = false;

/** The process's heap settings for a command: the young generation held small and the heap watch started. Once. */
export function tuneHeap(): void {
  if (tuned) return;
  tuned = true;
  v8.setFlagsFromString(HOLD_YOUNG_GENERATION);
  watchHeapGrowth({ used: () => v8.getHeapStatistics().used_heap_size, collect: collectNow });
}

/** `new Worker(...)`, and once it is online the heap settings again (a thread's start resets V8's flags). */
export function startThread(source: string | URL, options?: WorkerOptions): Worker {
  const worker = new Worker(source, options);
  if (tuned) worker.once("online", () => v8.setFlagsFromString(HOLD_YOUNG_GENERATION));
  return worker;
}

/**
 * V8 collects the main thread's old generation late: its limit grows up to fourfold after each full collection, so
 * promoted garbage (a backup's per-file records of stat and hash results, the manifests the store index read and
 * dropped) piles up for long. At bench scale 4 a restore's pre-restore backup took the main heap from ~50 to ~93 MiB
 * used (112 committed), mostly dead, and with it the restore's peak RSS. The watch collects in full whenever the heap
 * in use has grown by HEAP_STEP and by half since the last collection it made: a few collections per command (4 in
 * that restore, ~30-40 ms each), each at most 1.5 times the heap of the one before, where a fixed step alone marked
 * a large live heap over and over (29 full collections in a scale-4 backup instead of 18, +1 s).
 */
const HEAP_STEP = 16 * 1024 * 1024;
const HEAP_FACTOR = 1.5;
const HEAP_CHECK_MS = 100;

export interface HeapWatchParts {
  used: () => number;
  collect: () => void;
  stepBytes?: number;
  factor?: number;
  everyMs?: number;
}

/** The watch itself, on given parts (tests). Returns its stop. */
export function watchHeapGrowth(parts: HeapWatchParts): () => void {
  const { used, collect, stepBytes = HEAP_STEP, factor = HEAP_FACTOR, everyMs = HEAP_CHECK_MS } = parts;
  let base = used();
  const timer = setInterval(() => {
    const now = used();
    if (now < base + stepBytes || now < base * factor) return;
    collect();
    base = used();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
