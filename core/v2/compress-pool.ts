// Deflate on every core: a pool of worker threads, one per available CPU, each gzipping one piece per task.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { BackupError } from "../errors.ts";
import type { Encoding } from "./blob-codec.ts";
import { addPhase } from "./phase-clock.ts";
import { THREAD_GC_SOURCE } from "./thread-gc.ts";

/**
 * The worker is plain JavaScript evaluated from this string, so the same code runs under tsx, vitest and the compiled
 * dist/ (a .ts worker file would need a loader inside the thread). gzipSync is right here: the thread does nothing else.
 * The result goes back by transfer; zlib may hand out a view into a shared slab, which must be copied to move alone.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { gzipSync } = require("node:zlib");
const { performance } = require("node:perf_hooks");
${THREAD_GC_SOURCE}
const owned = (b) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b));
parentPort.on("message", ({ id, plain, level, orRaw }) => {
  try {
    const t0 = performance.now();
    const gz = gzipSync(plain, { level });
    const ms = performance.now() - t0;
    const raw = orRaw && gz.length >= plain.length;
    // The result goes back in the plaintext's own buffer (no longer needed: it was hashed before it came), so the
    // sender reuses one buffer per piece and neither thread makes garbage the size of the data.
    const inPlace = plain.byteOffset === 0 && gz.length <= plain.buffer.byteLength;
    const out = raw ? plain : inPlace ? new Uint8Array(plain.buffer, 0, gz.length) : owned(gz);
    if (!raw && inPlace) out.set(gz);
    noteGarbage(gz.length);
    parentPort.postMessage({ id, out, raw, ms }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  }
});
`;

/** Tasks queued in one worker at once: the next piece is waiting when one finishes, so no thread idles between messages. */
const PER_WORKER = 2;

/** With `transfer`, `stored` is a view at the start of the plaintext's own ArrayBuffer, back from the worker. */
export interface Encoded { stored: Buffer; encoding: Encoding }
interface Task { id: number; plain: Uint8Array; level: number; orRaw: boolean; transfer: boolean; resolve: (e: Encoded) => void; reject: (e: unknown) => void }
interface Slot { worker: Worker; busy: Map<number, Task> }

export class CompressPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private broken: unknown;

  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
  }

  /**
   * The stored form of a piece: its gzip member (deterministic: same bytes and level, same output), or with `orRaw`
   * the plaintext itself when gzip does not shrink it. With `transfer`, the whole ArrayBuffer of `plain` (a view at its
   * start) moves to the worker and comes back holding `stored`; the caller must not touch `plain` afterwards.
   * Without, `plain` is copied.
   * An `urgent` task (a trial a reader waits on) goes ahead of the pieces already queued.
   */
  encode(plain: Uint8Array, level: number, opts: { orRaw?: boolean; urgent?: boolean; transfer?: boolean } = {}): Promise<Encoded> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const task = { id: this.nextId++, plain, level, orRaw: opts.orRaw ?? true, transfer: opts.transfer ?? false, resolve, reject };
      if (opts.urgent) this.queue.unshift(task);
      else this.queue.push(task);
      this.dispatch();
    });
  }

  /** Stops every worker; tasks still queued or running fail. */
  async close(): Promise<void> {
    this.fail(new BackupError("compress pieces: the compression pool was closed before the backup finished"));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.freeSlot();
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.busy.set(task.id, task);
      const { plain } = task;
      const movable = task.transfer && plain.byteOffset === 0 && plain.buffer instanceof ArrayBuffer;
      // A view that does not move is copied alone (cloning it would copy its whole ArrayBuffer).
      const sent = movable ? plain : new Uint8Array(plain);
      slot.worker.postMessage({ id: task.id, plain: sent, level: task.level, orRaw: task.orRaw }, movable ? [plain.buffer as ArrayBuffer] : []);
    }
  }

  private freeSlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) if (s.busy.size < PER_WORKER && (!best || s.busy.size < best.busy.size)) best = s;
    if (best && best.busy.size === 0) return best;
    if (this.slots.length < this.size) return this.spawn();
    return best;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref(); // a pool left open by a crashed caller never keeps the process alive
    const slot: Slot = { worker, busy: new Map() };
    worker.on("message", (msg: { id: number; out?: Uint8Array; raw?: boolean; ms?: number; error?: string }) => {
      const task = slot.busy.get(msg.id);
      if (!task) return;
      slot.busy.delete(msg.id);
      const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
      if (msg.ms !== undefined) addPhase(`deflate L${task.level} (workers)`, msg.ms);
      if (msg.out) task.resolve({ stored: buf(msg.out), encoding: msg.raw ? "raw" : "gzip" });
      else task.reject(new BackupError(`compress piece: ${msg.error ?? "unknown error"}`));
      this.dispatch();
    });
    const lost = (err: unknown) => this.fail(new BackupError(`compress pieces: a compression worker stopped (${err instanceof Error ? err.message : String(err)})`, { cause: err }));
    worker.on("error", lost);
    worker.on("exit", (code) => {
      if (slot.busy.size > 0 || this.queue.length > 0) lost(new Error(`exit code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  private fail(err: unknown): void {
    this.broken ??= err;
    for (const s of this.slots) {
      for (const t of s.busy.values()) t.reject(this.broken);
      s.busy.clear();
    }
    for (const t of this.queue.splice(0)) t.reject(this.broken);
  }
}
