// The store lock: one backup or restore at a time, with expiry and a dead-pid check so a crashed holder cannot block forever.
import { existsSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { startThread } from "./heap-tuning.ts";
import { z } from "zod";
import type { Config } from "./config.ts";
import { BEAT_THREAD_FLAG, type BeatMessage, type BeatStart } from "./lock-beat-thread.ts";
import { BOOT_ID, processAlive } from "./owner.ts";
import { BackupError, ConflictError, StoreError, NotFoundError, ValidationError, errorMessage } from "./errors.ts";
import type { Storage } from "./storage/storage.ts";

/**
 * Who "this host" is for the dead-pid shortcut: the hostname plus the kernel's boot id, so two machines (or Lambda
 * micro-VMs) that happen to share a hostname never judge each other's pids. Containers sharing one kernel and one
 * hostname would still look alike; for them the heartbeat expiry is what frees a crashed owner's lock.
 */
export const LOCK_HOST = `${os.hostname()}#${BOOT_ID}`;

export interface LockOwner {
  id: string;
  pid: number;
  host: string;
  operation: string;
  startedAt: string;
}

export interface LockRecord extends LockOwner {
  heartbeatAt: string;
  expiresAt: string;
}

export interface HeldLock {
  /** The record as last written by this holder (heartbeats refresh it). */
  readonly record: LockRecord;
  /** Stops the heartbeat and deletes the lock if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long a record stays valid without a heartbeat. Default 10 minutes. */
  ttlMs?: number;
  /** How often the holder refreshes the record. Default ttlMs / 4. */
  heartbeatMs?: number;
  now?: () => Date;
  /** Called once if a heartbeat finds the lock replaced or removed by someone else; the heartbeat then stops. */
  onLost?: () => void;
  /**
   * A short lease renewed from a worker thread with its own store client built from `config` (core/lock-beat-thread.ts),
   * which keeps beating while the main thread is held by synchronous work: then `ttlMs`/`heartbeatMs` here replace the
   * ones above. Used only when that client names the same store as `storage`; if the thread cannot start, the lock is
   * taken with the options above, renewed on the main thread (the long default lease), as without this option.
   */
  thread?: { config: Config; ttlMs: number; heartbeatMs: number };
}

export const DEFAULT_LOCK_TTL_MS = 10 * 60 * 1000;
/**
 * A restore's lease (and a restore recovery's), renewed from a worker thread: a restore killed with its process (a Fargate
 * task stopped, OOM, kill -9) leaves a lock another host may take over two minutes after its last beat, not ten, so the
 * half-swapped CRM is rolled back that much sooner. Six beats fit in one lease: a slow store request or two do not lose it.
 */
export const RESTORE_LEASE = { ttlMs: 2 * 60 * 1000, heartbeatMs: 20 * 1000 };

/** A lock record that cannot be parsed: damaged store content, named by its key. */
class UnreadableLockError extends StoreError {}

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a date");
const LockRecordSchema = z.object({
  id: z.string(),
  pid: z.number().int(),
  host: z.string(),
  operation: z.string(),
  startedAt: isoDate,
  heartbeatAt: isoDate,
  expiresAt: isoDate,
});

export async function acquireLock(
  storage: Storage,
  key: string,
  owner: Omit<LockOwner, "startedAt" | "pid" | "host"> & Partial<LockOwner>,
  opts: LockOptions = {},
): Promise<HeldLock> {
  let ttlMs = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  let heartbeatMs = opts.heartbeatMs ?? Math.floor(ttlMs / 4);
  const now = opts.now ?? (() => new Date());
  checkLease(ttlMs, heartbeatMs);
  let thread: Worker | null = null;
  if (opts.thread) {
    checkLease(opts.thread.ttlMs, opts.thread.heartbeatMs);
    thread = await startBeatThread(opts.thread.config, storage.description);
    if (thread) ({ ttlMs, heartbeatMs } = opts.thread);
  }

  const started = now();
  const base: LockOwner = {
    id: owner.id,
    operation: owner.operation,
    pid: owner.pid ?? process.pid,
    host: owner.host ?? LOCK_HOST,
    startedAt: owner.startedAt ?? started.toISOString(),
  };

  // Up to one stale takeover, plus one retry if the holder let go between our attempt and our read.
  let lastHolder: LockRecord | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const record = stamp(base, now(), ttlMs);
    if (await storage.createExclusive(key, serialize(record))) {
      const info = await storage.stat(key);
      if (!info) {
        await thread?.terminate();
        throw new BackupError(`acquire lock: ${key} vanished right after it was created; retry`);
      }
      return startHolding(storage, key, record, info.version, { ttlMs, heartbeatMs, now, onLost: opts.onLost }, thread);
    }
    const current = await readLockVersioned(storage, key).catch(async (err: unknown) => {
      await thread?.terminate();
      if (!(err instanceof UnreadableLockError)) throw err;
      // Never guess about a record we cannot parse: it may be a newer tool's live lock.
      throw new ConflictError(
        `acquire lock: ${err.message}; if no backup or restore is running, delete ${key} from ${storage.description}`,
      );
    });
    if (!current) continue;
    lastHolder = current.record;
    if (!isStale(current.record, now())) {
      await thread?.terminate();
      throw conflict(current.record);
    }
    // ifVersion: if the holder heartbeated, or another waiter already took over, we must not delete their lock.
    await storage.delete(key, { ifVersion: current.version });
  }
  await thread?.terminate();
  throw lastHolder ? conflict(lastHolder) : new ConflictError(`acquire lock: ${key} keeps changing hands; retry`);
}

function checkLease(ttlMs: number, heartbeatMs: number): void {
  if (!(ttlMs > 0)) throw new ValidationError(`lock ttlMs must be positive, got ${ttlMs}`);
  // A heartbeat slower than the ttl would let a healthy holder's lock expire and be taken over.
  if (!(heartbeatMs > 0 && heartbeatMs < ttlMs))
    throw new ValidationError(`lock heartbeatMs must be between 0 and ttlMs (${ttlMs}), got ${heartbeatMs}`);
}

/** How long the beat thread may take to load its store client before the lock is taken without it. */
const THREAD_START_MS = 15_000;

/**
 * The beat thread, started and ready, or null when it cannot start or its store is not `description` (an engine whose
 * storage was not built from its config, as some tests make): then the caller keeps the main-thread heartbeat.
 */
async function startBeatThread(config: Config, description: string): Promise<Worker | null> {
  const fromSource = import.meta.url.endsWith(".ts");
  // lock-beat-thread.ts/.js beside this file (the sources, dist/): it loads in half the time of this module, which
  // brings zod. In a Lambda function's one-file bundle it does not exist: the thread loads the bundle, which holds it.
  const beside = new URL(`./lock-beat-thread.${fromSource ? "ts" : "js"}`, import.meta.url);
  const url = existsSync(fileURLToPath(beside)) ? beside : new URL(import.meta.url);
  const data = { config, [BEAT_THREAD_FLAG]: true };
  let worker: Worker;
  try {
    // Run from the TypeScript sources, the thread registers tsx first (a worker does not inherit the main thread's
    // loader); a built copy or a bundle is loaded as it is.
    const boot = () => `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => m.register()).then(() => import(${JSON.stringify(url.href)}))`;
    worker = fromSource ? startThread(boot(), { eval: true, workerData: data }) : startThread(url, { workerData: data });
  } catch {
    return null;
  }
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), THREAD_START_MS);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      worker.off("message", onMessage);
      resolve(ok);
    };
    const onMessage = (m: BeatMessage) => done(m.type === "ready" && m.description === description);
    worker.on("message", onMessage);
    worker.once("error", () => done(false));
    worker.once("exit", () => done(false));
  });
  if (!ready) {
    await worker.terminate();
    return null;
  }
  worker.unref(); // the lock must never be what keeps a finished process alive
  return worker;
}

/** The current lock record, or null if nobody holds the lock. Throws if the stored record is unreadable. */
export async function readLock(storage: Storage, key: string): Promise<LockRecord | null> {
  return (await readLockVersioned(storage, key))?.record ?? null;
}

/** Whether another process may take the lock over: it has expired, or its process on this host is gone. */
export function isStale(record: LockRecord, now: Date, host = LOCK_HOST): boolean {
  if (Date.parse(record.expiresAt) < now.getTime()) return true;
  return record.host === host && !processAlive(record.pid);
}

function conflict(record: LockRecord): ConflictError {
  return new ConflictError(
    `acquire lock: ${record.operation} ${record.id} has been running since ${record.startedAt} ` +
      `(pid ${record.pid} on ${record.host}); wait for it to finish`,
    record,
  );
}

function stamp(owner: LockOwner, at: Date, ttlMs: number): LockRecord {
  return { ...owner, heartbeatAt: at.toISOString(), expiresAt: new Date(at.getTime() + ttlMs).toISOString() };
}

function serialize(record: LockRecord): string {
  return JSON.stringify(record, null, 2) + "\n";
}

async function readLockVersioned(storage: Storage, key: string): Promise<{ record: LockRecord; version: string } | null> {
  // Stat before reading: if the record changes in between, the version is older than the content and a
  // conditional delete based on it fails safely instead of removing a fresh lock.
  const info = await storage.stat(key);
  if (!info) return null;
  let raw: Buffer;
  try {
    raw = await storage.getBuffer(key);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new UnreadableLockError(`lock ${key} is not valid JSON: ${errorMessage(err)}`);
  }
  const result = LockRecordSchema.safeParse(parsed);
  if (!result.success) throw new UnreadableLockError(`lock ${key} is not a lock record: ${z.prettifyError(result.error)}`);
  return { record: result.data, version: info.version };
}

function startHolding(
  storage: Storage,
  key: string,
  initial: LockRecord,
  initialVersion: string,
  opts: { ttlMs: number; heartbeatMs: number; now: () => Date; onLost?: () => void },
  thread: Worker | null,
): HeldLock {
  let record = initial;
  let version = initialVersion;
  let stopped = false;
  let lost = false;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const lose = () => {
    lost = true;
    stop();
    opts.onLost?.();
  };

  const beat = async () => {
    const info = await storage.stat(key);
    if (stopped) return;
    if (!info || info.version !== version) return lose();
    // A narrow race remains between this check and the put; it only matters if our lock had already expired.
    const next = { ...record, ...stamp(record, opts.now(), opts.ttlMs) };
    const written = await storage.put(key, serialize(next));
    record = next;
    version = written.version;
  };

  const beatHere = () => {
    timer = setInterval(() => {
      if (stopped || inFlight) return;
      // A failed heartbeat is retried on the next tick; if they keep failing, the lock expires as designed.
      inFlight = beat()
        .catch(() => undefined)
        .finally(() => {
          inFlight = undefined;
        });
    }, opts.heartbeatMs);
    // The lock must never be what keeps a finished process alive.
    timer.unref();
  };

  // The thread's last word on the lock: its final version and whether it lost it, once it has stopped beating.
  let threadStopped: Promise<{ version: string; lost: boolean } | null> | undefined;
  if (thread) {
    threadStopped = new Promise((resolve) => {
      thread.on("message", (m: BeatMessage) => {
        if (m.type === "beat") {
          record = m.record as unknown as LockRecord;
          version = m.version;
        } else if (m.type === "lost") lose();
        else if (m.type === "stopped") resolve({ version: m.version, lost: m.lost });
      });
      thread.on("error", () => undefined); // it then exits: handled below
      thread.once("exit", () => {
        resolve(null);
        // A thread that died while we hold the lock: beat from here on, or the short lease would expire under us.
        if (!stopped) beatHere();
      });
    });
    thread.postMessage({ type: "start", start: { key, version, record: { ...record }, ttlMs: opts.ttlMs, heartbeatMs: opts.heartbeatMs } satisfies BeatStart });
  } else beatHere();

  function stop() {
    stopped = true;
    clearInterval(timer);
  }

  let released: Promise<void> | undefined;
  return {
    get record() {
      return record;
    },
    release() {
      released ??= (async () => {
        stop();
        if (thread && threadStopped) {
          // Wait for a beat mid-put there too, and take its final version: the delete must match the last record written.
          thread.postMessage({ type: "stop" });
          const last = await threadStopped;
          if (last) {
            version = last.version || version;
            if (last.lost) lost = true;
          }
          await thread.terminate();
        }
        // Wait for a heartbeat mid-put, or it would re-create the lock right after we delete it.
        await inFlight;
        if (!lost) await storage.delete(key, { ifVersion: version });
      })();
      return released;
    },
  };
}
