// Deflate on every core: a pool of worker threads, one per available CPU, each gzipping one piece per task (and, for a
// copy of the CRM, stat-ing and hashing files in batches: CompressPool.survey).
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { startThread } from "../heap-tuning.ts";
import { BackupError } from "../errors.ts";
import { GZIP_MEM_LEVEL, type Encoding } from "./blob-codec.ts";
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
let scratch = null;
// One file of a survey (CompressPool.survey): its identity, and its pieces' hashes when the caller may need them.
// fs and crypto are loaded on the first survey only: a thread that only compresses starts as fast as before.
const surveyOne = ({ file, prev, rehash, pieceSize }) => {
  const { closeSync, openSync, readSync, statSync } = require("node:fs");
  const { createHash } = require("node:crypto");
  const sha256 = (b) => createHash("sha256").update(b).digest("hex");
  try {
    const st = statSync(file, { bigint: true });
    const id = { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino), mode: Number(st.mode), mtimeMs: Number(st.mtimeMs) };
    if (!prev || prev.size !== id.size || (st.mode & 0o170000n) !== 0o100000n) return { id };
    if (!rehash && prev.mtimeNs === id.mtimeNs && prev.ctimeNs === id.ctimeNs && prev.ino === id.ino) return { id };
    if (!scratch || scratch.length < pieceSize) scratch = Buffer.allocUnsafeSlow(pieceSize);
    const fd = openSync(file, "r");
    try {
      const whole = id.size > pieceSize ? createHash("sha256") : null;
      const shas = [];
      for (let pos = 0; pos < id.size; ) {
        const want = Math.min(pieceSize, id.size - pos);
        for (let got = 0; got < want; ) {
          const n = readSync(fd, scratch, got, want - got, pos + got);
          if (n === 0) return { id }; // shrank: the caller's own read reports it
          got += n;
        }
        const piece = scratch.subarray(0, want);
        if (whole) whole.update(piece);
        shas.push(sha256(piece));
        pos += want;
      }
      return { id, shas, whole: whole ? whole.digest("hex") : shas[0] ?? sha256(Buffer.alloc(0)) };
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return { error: String((err && err.message) || err) };
  }
};
// A message carries a batch of pieces (many small database pieces travel together) and one message brings them back.
parentPort.on("message", ({ tasks }) => {
  const results = [];
  const moved = new Set();
  for (const { id, plain, level, orRaw, files } of tasks) {
    if (files) {
      results.push({ id, surveyed: files.map(surveyOne) });
      continue;
    }
    try {
      const t0 = performance.now();
      const gz = gzipSync(plain, { level, memLevel: ${GZIP_MEM_LEVEL} });
      const ms = performance.now() - t0;
      const raw = orRaw && gz.length >= plain.length;
      // The result goes back in the plaintext's own buffer (no longer needed: it was hashed before it came), so the
      // sender reuses one buffer per piece and neither thread makes garbage the size of the data.
      const inPlace = plain.byteOffset === 0 && gz.length <= plain.buffer.byteLength;
      const out = raw ? plain : inPlace ? new Uint8Array(plain.buffer, 0, gz.length) : owned(gz);
      if (!raw && inPlace) out.set(gz);
      noteGarbage(gz.length);
      moved.add(out.buffer);
      results.push({ id, out, raw, ms });
    } catch (err) {
      results.push({ id, error: String(err && err.message || err) });
    }
  }
  parentPort.postMessage({ results }, [...moved]);
});
`;

const EMPTY = new Uint8Array(0);

/** Batches queued in one worker at once: the next is waiting when one finishes, so no thread idles between messages. */
const PER_WORKER = 2;
/**
 * Queued pieces travel to a worker together, up to this much plaintext (or BATCH_TASKS pieces) a message: a message's
 * round trip (transfers, wake-ups of both threads) cost ~0.2 ms of CPU, half of what deflating a 32 KiB database piece
 * costs. Measured on the bench's 104 MB database in 32 KiB pieces at level 4 through two threads, 8 MiB outstanding:
 * 2.3-2.6 s of CPU one piece a message, 1.7-1.8 s batched (1.4 s inline on one thread). Pieces of 100 KB and more
 * (the uploads) gain little: they mostly go one a message anyway, whenever a thread has room.
 */
const BATCH_BYTES = 1024 * 1024;
const BATCH_TASKS = 64;

/** With `transfer`, `stored` is a view at the start of the plaintext's own ArrayBuffer, back from the worker. */
export interface Encoded { stored: Buffer; encoding: Encoding }

/** A file to survey: `prev` is the previous backup's identity of the same path, if any. */
export interface SurveyFile { file: string; prev: { size: number; mtimeNs: string; ctimeNs: string; ino: string } | null; rehash: boolean; pieceSize: number }
/**
 * What a thread found: the file's stat (bigint times as strings), and when a previous record of the same size exists
 * but its identity differs (a copy, a --rehash backup) the SHA-256 of each piece and of the whole file, read there.
 * `error` when the stat or a read failed: the caller repeats the step itself, so the error surfaces as it always did.
 */
export type Surveyed =
  | { id: { size: number; mtimeNs: string; ctimeNs: string; ino: string; mode: number; mtimeMs: number }; shas?: string[]; whole?: string; error?: undefined }
  | { error: string; id?: undefined; shas?: undefined; whole?: undefined };

type Done = Encoded | Surveyed[];
interface Task {
  id: number; plain: Uint8Array; files?: SurveyFile[]; level: number; orRaw: boolean; transfer: boolean; urgent: boolean;
  resolve: (e: Done) => void; reject: (e: unknown) => void;
}
interface Slot { worker: Worker; busy: Map<number, Task>; batches: number }

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
    return new Promise<Done>((resolve, reject) => {
      const task: Task = { id: this.nextId++, plain, level, orRaw: opts.orRaw ?? true, transfer: opts.transfer ?? false, urgent: opts.urgent ?? false, resolve, reject };
      if (opts.urgent) this.queue.unshift(task);
      else this.queue.push(task);
      this.dispatch();
    }) as Promise<Encoded>;
  }

  /**
   * Stats `files` on a thread, and reads and hashes there those whose previous record has their size but not their
   * identity (see Surveyed): a copy of the CRM (a restore's pre-restore backup) or a --rehash backup then costs the main
   * thread one message per batch instead of a stat, open, reads and close through libuv's pool per file plus the hashing.
   * Urgent: readers wait on it, so it goes ahead of queued pieces.
   */
  survey(files: SurveyFile[]): Promise<Surveyed[]> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<Done>((resolve, reject) => {
      // Behind the urgent tasks already queued (the earlier batches), ahead of every piece.
      const at = this.queue.findIndex((t) => !t.urgent);
      this.queue.splice(at < 0 ? this.queue.length : at, 0, { id: this.nextId++, plain: EMPTY, files, level: 0, orRaw: false, transfer: false, urgent: true, resolve, reject });
      this.dispatch();
    }) as Promise<Surveyed[]>;
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
      const batch = this.nextBatch();
      const transfer = new Set<ArrayBuffer>();
      const tasks = batch.map((task) => {
        slot.busy.set(task.id, task);
        const { plain } = task;
        const movable = task.transfer && plain.byteOffset === 0 && plain.buffer instanceof ArrayBuffer;
        if (movable) transfer.add(plain.buffer as ArrayBuffer);
        // A view that does not move is copied alone (cloning it would copy its whole ArrayBuffer).
        if (task.files) return { id: task.id, files: task.files };
        return { id: task.id, plain: movable ? plain : new Uint8Array(plain), level: task.level, orRaw: task.orRaw };
      });
      slot.batches++;
      slot.worker.postMessage({ tasks }, [...transfer]);
    }
  }

  /** The queue's head, with the pieces behind it up to BATCH_BYTES; an urgent task (a trial a reader waits on) goes alone. */
  private nextBatch(): Task[] {
    const batch = [this.queue.shift()!];
    if (batch[0]!.urgent) return batch;
    let bytes = batch[0]!.plain.length;
    while (batch.length < BATCH_TASKS && this.queue.length > 0 && !this.queue[0]!.urgent && bytes + this.queue[0]!.plain.length <= BATCH_BYTES) {
      const next = this.queue.shift()!;
      bytes += next.plain.length;
      batch.push(next);
    }
    return batch;
  }

  private freeSlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) if (s.batches < PER_WORKER && (!best || s.batches < best.batches)) best = s;
    if (best && best.batches === 0) return best;
    if (this.slots.length < this.size) return this.spawn();
    return best;
  }

  private spawn(): Slot {
    const worker = startThread(WORKER_SOURCE, { eval: true });
    worker.unref(); // a pool left open by a crashed caller never keeps the process alive
    const slot: Slot = { worker, busy: new Map(), batches: 0 };
    worker.on("message", (msg: { results: { id: number; out?: Uint8Array; raw?: boolean; ms?: number; error?: string; surveyed?: Surveyed[] }[] }) => {
      slot.batches--;
      const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
      for (const r of msg.results) {
        const task = slot.busy.get(r.id);
        if (!task) continue;
        slot.busy.delete(r.id);
        if (r.ms !== undefined) addPhase(`deflate L${task.level} (workers)`, r.ms);
        if (r.surveyed) task.resolve(r.surveyed);
        else if (r.out) task.resolve({ stored: buf(r.out), encoding: r.raw ? "raw" : "gzip" });
        else task.reject(new BackupError(`compress piece: ${r.error ?? "unknown error"}`));
      }
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
