// Tests for the store lock: conflicts, release, takeover of expired and dead-process locks, heartbeats, ownership.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError } from "./errors.ts";
import { LOCK_HOST, acquireLock, readLock, type HeldLock, type LockRecord } from "./lock.ts";
import { FsStorage } from "./storage/fs-storage.ts";
import { MemoryStorage } from "./storage/memory-storage.ts";

const KEY = "locks/store.lock";
const here = path.dirname(fileURLToPath(import.meta.url));

describe("store lock", () => {
  const held: HeldLock[] = [];
  const hold = (lock: HeldLock) => (held.push(lock), lock);
  afterEach(async () => {
    for (const lock of held.splice(0)) await lock.release();
  });

  it("writes a full record and conflicts on a second acquire, naming the holder", async () => {
    const s = new MemoryStorage();
    const now = new Date("2024-05-01T10:00:00.000Z");
    const lock = hold(await acquireLock(s, KEY, { id: "bk-1", operation: "backup" }, { ttlMs: 60_000, now: () => now }));
    expect(lock.record).toEqual({
      id: "bk-1",
      operation: "backup",
      pid: process.pid,
      host: LOCK_HOST,
      startedAt: "2024-05-01T10:00:00.000Z",
      heartbeatAt: "2024-05-01T10:00:00.000Z",
      expiresAt: "2024-05-01T10:01:00.000Z",
    });
    expect(await readLock(s, KEY)).toEqual(lock.record);

    const err = await acquireLock(s, KEY, { id: "rs-2", operation: "restore" }, { now: () => now }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).holder).toEqual(lock.record);
    expect((err as Error).message).toBe(
      `acquire lock: backup bk-1 has been running since 2024-05-01T10:00:00.000Z (pid ${process.pid} on ${LOCK_HOST}); wait for it to finish`,
    );
  });

  it("can be acquired again after release, and release is idempotent", async () => {
    const s = new MemoryStorage();
    const first = await acquireLock(s, KEY, { id: "a", operation: "backup" });
    await first.release();
    await first.release();
    expect(await readLock(s, KEY)).toBeNull();
    const second = hold(await acquireLock(s, KEY, { id: "b", operation: "backup" }));
    expect((await readLock(s, KEY))?.id).toBe("b");
    expect(second.record.id).toBe("b");
  });

  it("takes over an expired lock", async () => {
    const s = new MemoryStorage();
    let clock = Date.parse("2024-05-01T10:00:00.000Z");
    const now = () => new Date(clock);
    const stale = hold(await acquireLock(s, KEY, { id: "old", operation: "backup" }, { ttlMs: 1000, heartbeatMs: 999, now }));
    clock += 500;
    await expect(acquireLock(s, KEY, { id: "early", operation: "backup" }, { now })).rejects.toBeInstanceOf(ConflictError);
    clock += 1000;
    const fresh = hold(await acquireLock(s, KEY, { id: "new", operation: "restore" }, { now }));
    expect(fresh.record.id).toBe("new");
    await stale.release();
    expect((await readLock(s, KEY))?.id).toBe("new");
  });

  it("takes over a lock whose process on this host is gone", async () => {
    const s = new MemoryStorage();
    const ghost: LockRecord = {
      id: "ghost",
      operation: "backup",
      pid: 2 ** 22 + 12345, // above Linux's pid_max, so no such process
      host: LOCK_HOST,
      startedAt: new Date().toISOString(),
      heartbeatAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    await s.put(KEY, JSON.stringify(ghost));
    hold(await acquireLock(s, KEY, { id: "me", operation: "backup" }));
    expect((await readLock(s, KEY))?.id).toBe("me");
  });

  it("does not judge a pid on another host", async () => {
    const s = new MemoryStorage();
    const remote: LockRecord = {
      id: "remote",
      operation: "backup",
      pid: 2 ** 22 + 12345,
      host: `not-${LOCK_HOST}`,
      startedAt: new Date().toISOString(),
      heartbeatAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    await s.put(KEY, JSON.stringify(remote));
    await expect(acquireLock(s, KEY, { id: "me", operation: "backup" })).rejects.toMatchObject({ holder: remote });
  });

  it("refuses to guess about an unreadable lock", async () => {
    const s = new MemoryStorage();
    await s.put(KEY, "{not json");
    await expect(acquireLock(s, KEY, { id: "me", operation: "backup" })).rejects.toThrow(/delete locks\/store\.lock/);
    expect((await s.getBuffer(KEY)).toString()).toBe("{not json");
  });

  it("heartbeats extend expiresAt while held", async () => {
    const s = new MemoryStorage();
    let clock = Date.parse("2024-05-01T10:00:00.000Z");
    const lock = hold(
      await acquireLock(s, KEY, { id: "hb", operation: "backup" }, { ttlMs: 1000, heartbeatMs: 20, now: () => new Date(clock) }),
    );
    clock += 5000;
    await waitFor(async () => lock.record.heartbeatAt === "2024-05-01T10:00:05.000Z");
    const record = await readLock(s, KEY);
    expect(record?.expiresAt).toBe("2024-05-01T10:00:06.000Z");
    expect(record?.startedAt).toBe("2024-05-01T10:00:00.000Z");
    expect(lock.record).toEqual(record);
    // Still ours: the refreshed record is not stale at the new time.
    await expect(acquireLock(s, KEY, { id: "x", operation: "backup" }, { now: () => new Date(clock) })).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it("stops heartbeating and does not delete on release once someone else holds it", async () => {
    const s = new MemoryStorage();
    let lostCalls = 0;
    const mine = await acquireLock(s, KEY, { id: "mine", operation: "backup" }, {
      ttlMs: 1000,
      heartbeatMs: 10,
      onLost: () => lostCalls++,
    });
    const theirs: LockRecord = { ...mine.record, id: "theirs", pid: process.pid };
    await s.put(KEY, JSON.stringify(theirs));
    await waitFor(async () => lostCalls === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(await readLock(s, KEY)).toEqual(theirs);
    await mine.release();
    expect(await readLock(s, KEY)).toEqual(theirs);
    expect(lostCalls).toBe(1);
  });

  it("release waits for an in-flight heartbeat instead of racing it", async () => {
    const s = new MemoryStorage();
    for (let i = 0; i < 20; i++) {
      const lock = await acquireLock(s, KEY, { id: `r${i}`, operation: "backup" }, { ttlMs: 100, heartbeatMs: 1 });
      await new Promise((r) => setTimeout(r, i % 4));
      await lock.release();
      expect(await readLock(s, KEY)).toBeNull();
    }
  });

  it("rejects a heartbeat that is not shorter than the ttl", async () => {
    await expect(
      acquireLock(new MemoryStorage(), KEY, { id: "x", operation: "backup" }, { ttlMs: 100, heartbeatMs: 100 }),
    ).rejects.toMatchObject({ code: "validation_error" });
  });
});

describe("store lock across processes (FsStorage)", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "colab-lock-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("takes over at once from a holder killed with SIGKILL on this host", async () => {
    const code = [
      `import { FsStorage } from ${JSON.stringify(pathToFileURL(path.join(here, "storage/fs-storage.ts")).href)};`,
      `import { acquireLock } from ${JSON.stringify(pathToFileURL(path.join(here, "lock.ts")).href)};`,
      `await acquireLock(new FsStorage(process.env.LOCK_ROOT), ${JSON.stringify(KEY)}, { id: "child", operation: "backup" });`,
      `console.log("acquired");`,
      `setInterval(() => {}, 1000);`,
    ].join("\n");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      cwd: path.dirname(here),
      env: { ...process.env, LOCK_ROOT: root },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => d.toString().includes("acquired") && resolve());
        child.on("exit", () => reject(new Error(`child exited before acquiring the lock: ${stderr}`)));
      });
      const s = new FsStorage(root);
      const holder = await readLock(s, KEY);
      expect(holder).toMatchObject({ id: "child", pid: child.pid, host: LOCK_HOST });
      await expect(acquireLock(s, KEY, { id: "parent", operation: "restore" })).rejects.toMatchObject({ holder });

      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      // The record still says it is valid for 10 minutes; only the dead pid makes it stale.
      expect(Date.parse((await readLock(s, KEY))!.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
      const lock = await acquireLock(s, KEY, { id: "parent", operation: "restore" });
      expect((await readLock(s, KEY))?.id).toBe("parent");
      await lock.release();
      expect(await s.list("")).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
