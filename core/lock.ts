// The store lock: one backup or restore at a time, with expiry and a dead-pid check so a crashed holder cannot block forever.
import os from "node:os";
import { z } from "zod";
import { BOOT_ID, processAlive } from "./owner.ts";
import { BackupError, ConflictError, NotFoundError, ValidationError, errorMessage } from "./errors.ts";
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
}

export const DEFAULT_LOCK_TTL_MS = 10 * 60 * 1000;

class UnreadableLockError extends BackupError {}

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
  const ttlMs = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const heartbeatMs = opts.heartbeatMs ?? Math.floor(ttlMs / 4);
  const now = opts.now ?? (() => new Date());
  if (!(ttlMs > 0)) throw new ValidationError(`lock ttlMs must be positive, got ${ttlMs}`);
  // A heartbeat slower than the ttl would let a healthy holder's lock expire and be taken over.
  if (!(heartbeatMs > 0 && heartbeatMs < ttlMs))
    throw new ValidationError(`lock heartbeatMs must be between 0 and ttlMs (${ttlMs}), got ${heartbeatMs}`);

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
      if (!info) throw new BackupError(`acquire lock: ${key} vanished right after it was created; retry`);
      return startHolding(storage, key, record, info.version, { ttlMs, heartbeatMs, now, onLost: opts.onLost });
    }
    const current = await readLockVersioned(storage, key).catch((err: unknown) => {
      if (!(err instanceof UnreadableLockError)) throw err;
      // Never guess about a record we cannot parse: it may be a newer tool's live lock.
      throw new ConflictError(
        `acquire lock: ${err.message}; if no backup or restore is running, delete ${key} from ${storage.description}`,
      );
    });
    if (!current) continue;
    lastHolder = current.record;
    if (!isStale(current.record, now())) throw conflict(current.record);
    // ifVersion: if the holder heartbeated, or another waiter already took over, we must not delete their lock.
    await storage.delete(key, { ifVersion: current.version });
  }
  throw lastHolder ? conflict(lastHolder) : new ConflictError(`acquire lock: ${key} keeps changing hands; retry`);
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
  opts: Required<Omit<LockOptions, "onLost">> & Pick<LockOptions, "onLost">,
): HeldLock {
  let record = initial;
  let version = initialVersion;
  let stopped = false;
  let lost = false;
  let inFlight: Promise<void> | undefined;

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

  const timer = setInterval(() => {
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
        // Wait for a heartbeat mid-put, or it would re-create the lock right after we delete it.
        await inFlight;
        if (!lost) await storage.delete(key, { ifVersion: version });
      })();
      return released;
    },
  };
}
