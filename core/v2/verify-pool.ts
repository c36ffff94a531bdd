// Checks stored pieces on every core: worker threads gunzip each piece, hash it, and keep each file's running SHA-256.
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { startThread } from "../heap-tuning.ts";
import { BackupError, ChecksumMismatchError, UnsafeArchiveError } from "../errors.ts";
import type { BlobRef } from "../manifest.ts";
import { ByteBudget } from "./bounded.ts";
import { MAX_STORED_PIECE } from "./reader.ts";
import { addPhase } from "./phase-clock.ts";
import { THREAD_GC_SOURCE } from "./thread-gc.ts";

/** A thread's buffer for pieces read in place: as big as a stored piece may be. */
const SCRATCH_BYTES = MAX_STORED_PIECE;

/**
 * Plain JavaScript evaluated from a string, as in compress-pool.ts (the same code runs under tsx, vitest and dist/).
 * A file's pieces all go to one thread, in order, so the thread can hash the file as the pieces pass: nothing but a
 * verdict comes back. With `fd`, the checked plaintext is written at `at` in that file (the database, for
 * integrity_check), so it never crosses back to the main thread either. With `packFd` instead of `stored`, the thread
 * reads the piece itself from that open pack (pread at `offset`), so the piece never passes through the main thread.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { gunzipSync } = require("node:zlib");
const { createHash } = require("node:crypto");
const { readSync, writeSync } = require("node:fs");
${THREAD_GC_SOURCE}
const files = new Map();
const phases = process.env.COLAB_BACKUP_PHASES === "1";
// A piece read in place lands here: one buffer for the thread's life, never garbage.
let scratch = Buffer.allocUnsafe(0);
const readPiece = (m) => {
  if (scratch.length < m.length) scratch = Buffer.allocUnsafe(Math.max(m.length, ${SCRATCH_BYTES}));
  let got = 0;
  for (let n = 1; got < m.length && n > 0; got += n) n = readSync(m.packFd, scratch, got, m.length - got, m.offset + got);
  return scratch.subarray(0, got);
};
parentPort.on("message", (m) => {
  const t0 = performance.now();
  let stored;
  try {
    stored = m.stored ?? readPiece(m);
  } catch (err) {
    files.delete(m.file);
    return parentPort.postMessage({ id: m.id, bad: "read", detail: String((err && err.message) || err) });
  }
  if (stored.length !== m.length) {
    files.delete(m.file);
    return parentPort.postMessage({ id: m.id, bad: "short", length: stored.length });
  }
  let plain = stored;
  if (m.gzip) {
    try {
      // One output buffer a byte bigger than the piece: zlib fills it in one call, with no 16 KiB chunks to join.
      plain = gunzipSync(stored, { maxOutputLength: Math.max(m.size, 1), chunkSize: Math.max(m.size + 1, 64) });
    } catch (err) {
      files.delete(m.file);
      return parentPort.postMessage({ id: m.id, bad: "gzip", detail: String((err && err.message) || err) });
    }
  }
  const t1 = performance.now();
  const sha = createHash("sha256").update(plain).digest("hex");
  if (plain.length !== m.size || sha !== m.sha256) {
    files.delete(m.file);
    return parentPort.postMessage({ id: m.id, bad: "content", length: plain.length, sha });
  }
  let fileSha;
  if (m.file !== undefined) {
    let h = files.get(m.file);
    if (!h) files.set(m.file, (h = createHash("sha256")));
    h.update(plain);
    if (m.last) {
      fileSha = h.digest("hex");
      files.delete(m.file);
    }
  }
  const t2 = performance.now();
  try {
    if (m.fd !== undefined) for (let done = 0; done < plain.length; ) done += writeSync(m.fd, plain, done, plain.length - done, m.at + done);
  } catch (err) {
    return parentPort.postMessage({ id: m.id, bad: "write", detail: String((err && err.message) || err) });
  }
  noteGarbage((m.stored ? m.stored.length : 0) + (plain === stored ? 0 : plain.length));
  parentPort.postMessage({ id: m.id, fileSha, ms: phases ? [t1 - t0, t2 - t1, performance.now() - t2] : undefined });
});
`;

/** Stored bytes sent but not yet checked, per thread: enough to keep it busy, bounded whatever the backup's size. */
const QUEUED_PER_THREAD = 4 * 1024 * 1024;

export interface PieceTask {
  ref: BlobRef;
  /** The piece as stored, or (`packFd`) an open descriptor of its pack, from which the thread reads it in place. */
  stored?: Buffer;
  packFd?: number;
  /** The file, for messages. */
  where: string;
  /** Set on every piece of a file hashed as a whole; `last` on its final piece, whose answer carries the file's SHA-256. */
  file?: number;
  last?: boolean;
  /** Write the checked plaintext at byte `at` of this open file descriptor. */
  fd?: number;
  at?: number;
}

interface Pending { task: PieceTask; resolve: (fileSha: string | undefined) => void; reject: (e: unknown) => void }
/** A thread, its pieces sent and not yet answered, and its own byte budget (a busy thread never starves another). */
interface Lane { worker: Worker; pending: Map<number, Pending>; queued: number; kept: number; budget: ByteBudget }
interface Answer { ms?: number[]; id: number; fileSha?: string; bad?: "read" | "short" | "gzip" | "content" | "write"; detail?: string; length?: number; sha?: string }

export class VerifyPool {
  readonly size: number;
  private readonly lanes: Lane[] = [];
  private nextId = 0;
  private nextFile = 0;
  private broken: unknown;

  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
  }

  /** A key for a file hashed as a whole. */
  fileKey(): number {
    return this.nextFile++;
  }

  /**
   * The thread for the next file: the one with the fewest bytes queued (all of a file's pieces go to it), passing over
   * a thread kept for one file while another is free. `alone` keeps the chosen thread for this file until `unkeep`:
   * the database, whose integrity_check can start only after its last piece, so it must not queue behind uploads.
   */
  pick(alone = false): number {
    while (this.lanes.length < this.size) this.spawn();
    let best = -1;
    for (let i = 0; i < this.lanes.length; i++) {
      const l = this.lanes[i]!;
      if (best < 0 || l.kept < this.lanes[best]!.kept || (l.kept === this.lanes[best]!.kept && l.queued < this.lanes[best]!.queued)) best = i;
    }
    if (alone) this.lanes[best]!.kept++;
    return best;
  }

  unkeep(lane: number): void {
    const l = this.lanes[lane];
    if (l && l.kept > 0) l.kept--;
  }

  /**
   * Sends one piece to thread `lane` once the byte budget has room (so a caller awaiting this is the brake). The
   * returned `done` settles when the piece is checked: with the file's SHA-256 on a `last` piece, or the named error.
   */
  async send(lane: number, task: PieceTask): Promise<{ done: Promise<string | undefined> }> {
    if (this.broken) throw this.broken;
    const n = task.stored?.length ?? task.ref.length;
    const l = this.lanes[lane]!;
    await l.budget.acquire(n);
    if (this.broken) {
      l.budget.release(n);
      throw this.broken;
    }
    const id = this.nextId++;
    const done = new Promise<string | undefined>((resolve, reject) => l.pending.set(id, { task, resolve, reject })).finally(() => {
      l.queued -= n;
      l.budget.release(n);
    });
    done.catch(() => undefined); // the caller awaits it; a caller that stopped early leaves no unhandled rejection
    l.queued += n;
    const { ref, stored } = task;
    // A piece in hand is copied out of its pack once and that copy moves to the thread (cloning a view would copy the
    // whole pack; cloning a copy would make a second one), so the main thread keeps no garbage the size of the data.
    const own = stored && new Uint8Array(stored.byteLength);
    own?.set(stored!);
    l.worker.postMessage({
      id, stored: own, packFd: task.packFd, offset: ref.offset, length: ref.length, gzip: ref.encoding === "gzip",
      size: ref.size, sha256: ref.sha256, file: task.file, last: task.last, fd: task.fd, at: task.at,
    }, own ? [own.buffer] : []);
    return { done };
  }

  async close(): Promise<void> {
    this.fail(new BackupError("verify pieces: the verify pool was closed before the check finished"));
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
    this.lanes.length = 0;
  }

  private spawn(): void {
    const worker = startThread(WORKER_SOURCE, { eval: true });
    worker.unref();
    const lane: Lane = { worker, pending: new Map(), queued: 0, kept: 0, budget: new ByteBudget(QUEUED_PER_THREAD) };
    worker.on("message", (a: Answer) => {
      const p = lane.pending.get(a.id);
      if (!p) return;
      lane.pending.delete(a.id);
      if (a.ms) {
        addPhase("gunzip (workers)", a.ms[0]!);
        addPhase("sha256 (workers)", a.ms[1]!);
        addPhase("write (workers)", a.ms[2]!);
      }
      if (a.bad) p.reject(pieceError(p.task, a));
      else p.resolve(a.fileSha);
    });
    const lost = (err: unknown) => this.fail(new BackupError(`verify pieces: a verify worker stopped (${err instanceof Error ? err.message : String(err)})`, { cause: err }));
    worker.on("error", lost);
    worker.on("exit", (code) => {
      if (lane.pending.size > 0) lost(new Error(`exit code ${code}`));
    });
    this.lanes.push(lane);
  }

  private fail(err: unknown): void {
    this.broken ??= err;
    for (const l of this.lanes) {
      for (const p of l.pending.values()) p.reject(this.broken);
      l.pending.clear();
    }
  }
}

/** The same errors, in the same words, as decodeBlob in blob-codec.ts: the report reads alike whichever path checked. */
function pieceError({ ref, where }: PieceTask, a: Answer): Error {
  const blob = `read blob ${ref.sha256.slice(0, 12)} of ${where}`;
  if (a.bad === "read") return new ChecksumMismatchError(`${blob}: reading ${ref.pack} failed (${a.detail}); the store is damaged, pick another backup`);
  if (a.bad === "short") return new ChecksumMismatchError(`${blob}: ${ref.pack} holds ${a.length} bytes at ${ref.offset}, expected ${ref.length}; the store is damaged, pick another backup`);
  if (a.bad === "gzip") return new UnsafeArchiveError(`${blob}: not a gzip member of ${ref.size} bytes (${a.detail}); the store is damaged, pick another backup`);
  if (a.bad === "write") return new BackupError(`${blob}: writing its checked bytes to the work folder failed (${a.detail}); check the disk space of the work folder`);
  return new ChecksumMismatchError(`${blob}: its content (${a.length} bytes, SHA-256 ${a.sha!.slice(0, 12)}) differs from the recorded one; the store is damaged, pick another backup`);
}
