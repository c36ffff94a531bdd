// Keeps a worker thread's garbage buffers from piling up: the snippet its source includes to collect them every few MiB.

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
