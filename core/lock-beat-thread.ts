// The store lock's heartbeat on a worker thread (core/lock.ts, beatFrom): its own store client, built from the same config,
// renews the lease while the main thread is busy in synchronous work (SQLite's page copy into the live database holds
// it for as long as the copy takes), so a short lease expires only when the process is gone, never while it works.
// The thread loads this file (or, in a Lambda function, the one bundle holding it and core/lock.ts), which starts beating
// when its workerData carries BEAT_THREAD_FLAG.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { Config } from "./config.ts";
import { ConflictError } from "./errors.ts";
import { storageFromConfig } from "./storage/from-config.ts";

export interface BeatStart { key: string; version: string; record: Record<string, unknown>; ttlMs: number; heartbeatMs: number }
/** Thread -> main: ready (its store's description), each renewed record, lost (someone else holds the key now), stopped. */
export type BeatMessage =
  | { type: "ready"; description: string }
  | { type: "beat"; record: Record<string, unknown>; version: string }
  | { type: "lost" }
  | { type: "stopped"; version: string; lost: boolean };

/** Set in the beat thread's workerData (core/lock.ts startBeatThread). */
export const BEAT_THREAD_FLAG = "colabLockBeatThread";

async function runBeatThread(): Promise<void> {
  const port = parentPort!;
  const storage = await storageFromConfig((workerData as { config: Config }).config);
  port.postMessage({ type: "ready", description: storage.description } satisfies BeatMessage);

  let state: BeatStart | undefined;
  let lost = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  async function beat(s: BeatStart): Promise<void> {
    const now = new Date();
    const next = { ...s.record, heartbeatAt: now.toISOString(), expiresAt: new Date(now.getTime() + s.ttlMs).toISOString() };
    try {
      // Replaces exactly our last record: a lock taken over (expired, then deleted and created by another) is not ours.
      const info = await storage.put(s.key, JSON.stringify(next, null, 2) + "\n", { ifVersion: s.version });
      s.version = info.version;
      s.record = next;
      port.postMessage({ type: "beat", record: next, version: info.version } satisfies BeatMessage);
    } catch (err) {
      if (!(err instanceof ConflictError) && !(await storage.stat(s.key).then((i) => !i || i.version !== s.version, () => false))) return; // retried next tick
      lost = true;
      clearInterval(timer);
      port.postMessage({ type: "lost" } satisfies BeatMessage);
    }
  }

  port.on("message", async (msg: { type: "start"; start: BeatStart } | { type: "stop" }) => {
    if (msg.type === "start") {
      state = msg.start;
      const s = state;
      timer = setInterval(() => {
        if (lost || inFlight) return;
        inFlight = beat(s).finally(() => (inFlight = undefined));
      }, s.heartbeatMs);
      return;
    }
    clearInterval(timer);
    await inFlight;
    port.postMessage({ type: "stopped", version: state?.version ?? "", lost } satisfies BeatMessage);
    port.close();
  });
}

// A failure here ends the thread with an error, and the lock is then taken with the main-thread heartbeat.
if (!isMainThread && (workerData as Record<string, unknown> | null)?.[BEAT_THREAD_FLAG] === true) void runBeatThread();
