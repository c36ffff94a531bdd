// Keeps a worker thread's garbage buffers from piling up: the snippet its source includes to collect them every few MiB.
import v8 from "node:v8";
import vm from "node:vm";

/**
 * A thread that turns buffers over (zlib's outputs, received pieces) allocates almost no JavaScript, so V8 rarely
 * collects on its own; it does when the buffers' external memory has grown by about 64 MiB, and by then each thread
 * holds that much dead data. Measured: two gzip threads at 1 MiB a piece peaked at 195 MiB RSS, 140 MiB with this.
 * A young-generation collection of a heap this small takes well under a millisecond, so it runs every MiB: at 8 MiB
 * each busy thread still held ~28 MiB, at 1 MiB ~16 (the scale-1 bench backup peaked at 294 MiB, then 258; its
 * verify at 279, then 214; same CPU time). `--expose-gc` is set at run time (a command-line flag cannot reach a
 * worker); the function is fetched from a fresh context, which sees it.
 * `noteGarbage(n)` counts bytes that became garbage; every GARBAGE_STEP bytes it collects.
 */
export const THREAD_GC_SOURCE = `
const GARBAGE_STEP = 1024 * 1024;
let collectGarbage = null;
try {
  require("node:v8").setFlagsFromString("--expose-gc");
  collectGarbage = require("node:vm").runInNewContext("gc");
} catch {}
let garbageSince = 0;
const noteGarbage = (n) => {
  garbageSince += n;
  if (garbageSince < GARBAGE_STEP || !collectGarbage) return;
  garbageSince = 0;
  collectGarbage({ type: "minor" });
};
`;

/**
 * The same on the main thread, for the big buffers it drops (packs read back after a put, whole packs leaving the
 * reader's cache): each is a few MiB of external memory that V8 frees only at a collection, and the main thread makes
 * little JavaScript garbage while it streams, so without this up to ~64 MiB of dead packs sat in RSS (V8's external
 * memory trigger). A young-generation collection every MAIN_MINOR_STEP bytes frees them. Full collections here were
 * tried and dropped: with a parsed manifest on the heap each one marks it all, which made an export of the bench CRM
 * 15-20% slower (9.3-10.2 s against 7.5-8.0 s, idle) for no lower peak (190-200 MiB either way).
 */
const MAIN_MINOR_STEP = 8 * 1024 * 1024;
/** V8's gc(): with no argument a full, forced collection (measured: `{ type: "major" }` left large objects in place). */
let mainGc: ((opts?: { type: "minor" }) => void) | null | undefined;
let mainSinceMinor = 0;

/** Counts `bytes` of big buffers the main thread just dropped; a minor collection every MAIN_MINOR_STEP of them. */
export function noteMainGarbage(bytes: number): void {
  mainSinceMinor += bytes;
  if (mainSinceMinor < MAIN_MINOR_STEP) return;
  mainSinceMinor = 0;
  mainGc ??= fetchGc();
  mainGc?.({ type: "minor" });
}

/**
 * A full collection now, before a step that needs a lot at once (writing a big manifest): the main thread's old
 * generation holds dead manifests' text and trees for long (V8 waits for its heap limit, far off), measured at scale 4
 * 50-70 MiB of a ~100 MiB heap; collected first, the step's peak is that much lower.
 */
export function collectNow(): void {
  mainGc ??= fetchGc();
  mainGc?.();
}

function fetchGc(): typeof mainGc {
  try {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as typeof mainGc;
  } catch {
    return null;
  }
}
