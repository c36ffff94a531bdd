// Checks stored pieces on every core: worker threads gunzip each piece, hash it, and keep each file's running SHA-256.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { BackupError, ChecksumMismatchError, UnsafeArchiveError } from "../errors.ts";
import type { BlobRef } from "../manifest.ts";
import { ByteBudget } from "./bounded.ts";
import { THREAD_GC_SOURCE } from "./thread-gc.ts";

/**
 * Plain JavaScript evaluated from a string, as in compress-pool.ts (the same code runs under tsx, vitest and dist/).
 * A file's pieces all go to one thread, in order, so the thread can hash the file as the pieces pass: nothing but a
 * verdict comes back. With `fd`, the checked plaintext is written at `at` in that file (the database, for
 * integrity_check), so it never crosses back to the main thread either.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { gunzipSync } = require("node:zlib");
const { createHash } = require("node:crypto");
const { writeSync } = require("node:fs");
${THREAD_GC_SOURCE}
const files = new Map();
parentPort.on("message", (m) => {
  let plain = m.stored;
  if (m.gzip) {
    try {
      plain = gunzipSync(m.stored, { maxOutputLength: Math.max(m.size, 1) });
    } catch (err) {
      files.delete(m.file);
      return parentPort.postMessage({ id: m.id, bad: "gzip", detail: String((err && err.message) || err) });
    }
  }
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
  try {
    if (m.fd !== undefined) for (let done = 0; done < plain.length; ) done += writeSync(m.fd, plain, done, plain.length - done, m.at + done);
  } catch (err) {
    return parentPort.postMessage({ id: m.id, bad: "write", detail: String((err && err.message) || err) });
  }
  noteGarbage(m.stored.length + (plain === m.stored ? 0 : plain.length));
  parentPort.postMessage({ id: m.id, fileSha });
});
`;

/** Stored bytes sent but not yet checked, per thread: enough to keep it busy, bounded whatever the backup's size. */
const QUEUED_PER_THREAD = 4 * 1024 * 1024;

export interface PieceTask {
  ref: BlobRef;
  stored: Buffer;
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
interface Lane { worker: Worker; pending: Map<number, Pending>; queued: number }
interface Answer { id: number; fileSha?: string; bad?: "gzip" | "content" | "write"; detail?: string; length?: number; sha?: string }

export class VerifyPool {
  readonly size: number;
  private readonly lanes: Lane[] = [];
  private readonly budget: ByteBudget;
  private nextId = 0;
  private nextFile = 0;
  private broken: unknown;

  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
    this.budget = new ByteBudget(QUEUED_PER_THREAD * this.size);
  }

  /** A key for a file hashed as a whole. */
  fileKey(): number {
    return this.nextFile++;
  }

  /** The thread for the next file: the one with the fewest bytes queued (all of a file's pieces go to it). */
  pick(): number {
    while (this.lanes.length < this.size) this.spawn();
    let best = 0;
    for (let i = 1; i < this.lanes.length; i++) if (this.lanes[i]!.queued < this.lanes[best]!.queued) best = i;
    return best;
  }

  /**
   * Sends one piece to thread `lane` once the byte budget has room (so a caller awaiting this is the brake). The
   * returned `done` settles when the piece is checked: with the file's SHA-256 on a `last` piece, or the named error.
   */
  async send(lane: number, task: PieceTask): Promise<{ done: Promise<string | undefined> }> {
    if (this.broken) throw this.broken;
    const n = task.stored.length;
    await this.budget.acquire(n);
    if (this.broken) {
      this.budget.release(n);
      throw this.broken;
    }
    const l = this.lanes[lane]!;
    const id = this.nextId++;
    const done = new Promise<string | undefined>((resolve, reject) => l.pending.set(id, { task, resolve, reject })).finally(() => {
      l.queued -= n;
      this.budget.release(n);
    });
    done.catch(() => undefined); // the caller awaits it; a caller that stopped early leaves no unhandled rejection
    l.queued += n;
    const { ref, stored } = task;
    // The piece is copied out of its pack once and that copy moves to the thread (cloning a view would copy the whole
    // pack; cloning a copy would make a second one), so the main thread keeps no garbage the size of the data.
    const own = new Uint8Array(stored.byteLength);
    own.set(stored);
    l.worker.postMessage({
      id, stored: own, gzip: ref.encoding === "gzip",
      size: ref.size, sha256: ref.sha256, file: task.file, last: task.last, fd: task.fd, at: task.at,
    }, [own.buffer]);
    return { done };
  }

  async close(): Promise<void> {
    this.fail(new BackupError("verify pieces: the verify pool was closed before the check finished"));
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
    this.lanes.length = 0;
  }

  private spawn(): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    const lane: Lane = { worker, pending: new Map(), queued: 0 };
    worker.on("message", (a: Answer) => {
      const p = lane.pending.get(a.id);
      if (!p) return;
      lane.pending.delete(a.id);
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
  if (a.bad === "gzip") return new UnsafeArchiveError(`${blob}: not a gzip member of ${ref.size} bytes (${a.detail}); the store is damaged, pick another backup`);
  if (a.bad === "write") return new BackupError(`${blob}: writing its checked bytes to the work folder failed (${a.detail}); check the disk space of the work folder`);
  return new ChecksumMismatchError(`${blob}: its content (${a.length} bytes, SHA-256 ${a.sha!.slice(0, 12)}) differs from the recorded one; the store is damaged, pick another backup`);
}
