// The restore's short lease (core/lock.ts RESTORE_LEASE, beaten from core/lock-beat-thread.ts), on the fs store and on S3
// (LocalStack): a holder whose main thread is held by synchronous work for several leases keeps its lock (the same wait
// with the main-thread heartbeat loses it: the test can fail); a holder on another host that dies is taken over one
// lease after its last beat, and only then does recovery roll its restore back; a restore takes the short lease.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { loadConfig, type Config } from "../core/config.ts";
import { ConflictError } from "../core/errors.ts";
import { LOCK_KEY } from "../core/ids.ts";
import { acquireLock, isStale, readLock, RESTORE_LEASE } from "../core/lock.ts";
import { journalPath, writeJournal } from "../core/restore-journal.ts";
import { recoverInterruptedRestore } from "../core/restore-recovery.ts";
import { storageFromConfig } from "../core/storage/from-config.ts";
import type { Storage } from "../core/storage/storage.ts";
import { s3TestPrefix } from "./localstack/s3-test-prefix.ts";
import { makeCrm, makeTestEngine, tempDir } from "./helpers/crm.ts";
import { mutateCrm, spawnCli } from "./fault/helpers.ts";

const { ls, prefix } = s3TestPrefix("lock-lease");

// Short enough for a test, long enough for a loaded machine (2 cores shared by several test runs) to beat in time.
const LEASE = { ttlMs: 3000, heartbeatMs: 400 };
/** Holds this thread as SQLite's page copy would: no timer, no I/O callback runs meanwhile. */
const blockFor = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A node process running `body` (ESM, tsx) with the store's config in LEASE_CONFIG; resolves on its first line of output. */
function holderProcess(config: Config, body: string) {
  const script = `
    import { acquireLock } from ${JSON.stringify(path.resolve("core/lock.ts"))};
    import { storageFromConfig } from ${JSON.stringify(path.resolve("core/storage/from-config.ts"))};
    const config = JSON.parse(process.env.LEASE_CONFIG);
    const storage = await storageFromConfig(config);
    ${body}`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, LEASE_CONFIG: JSON.stringify(config) }, stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  let exited: number | null | undefined;
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  child.stdout!.on("data", (d) => (lines.push(...String(d).split("\n").filter(Boolean)), wake()));
  child.once("exit", (code) => ((exited = code), wake()));
  const line = (n: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (lines.length >= n) resolve(lines[n - 1]!);
        else if (exited !== undefined) reject(new Error(`holder exited ${exited} after ${lines.length} line(s)`));
        else return;
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return { child, line };
}

/** Blocks this thread for four leases while another host tries to take the lock two leases in; its answer. */
async function contendWhileBlocked(config: Config): Promise<string> {
  const other = holderProcess(config, `
    process.stdout.write("ready\\n");
    await new Promise((r) => setTimeout(r, ${2 * LEASE.ttlMs}));
    try {
      const lock = await acquireLock(storage, "${LOCK_KEY}", { id: "restore-other", operation: "restore", host: "ip-10-0-0-9#0badf00d" });
      await lock.release();
      process.stdout.write("took\\n");
    } catch (err) {
      process.stdout.write(err.name === "ConflictError" || /running since/.test(err.message) ? "conflict\\n" : "error " + err.message + "\\n");
    }`);
  await other.line(1);
  blockFor(4 * LEASE.ttlMs);
  return other.line(2);
}

const stores: { name: string; config: () => Config }[] = [
  { name: "fs", config: () => loadConfig({ BACKUP_DIR: tempDir("lease-fs-") }) },
  { name: "S3 (LocalStack)", config: () => loadConfig({ BACKUP_STORAGE: "s3", BACKUP_BUCKET: ls.bucket, BACKUP_S3_PREFIX: `${prefix}${randomBytes(3).toString("hex")}/`, AWS_REGION: ls.region, AWS_ENDPOINT_URL: ls.endpoint }) },
];

describe.each(stores)("the restore lease on the $name store", ({ config: makeConfig }) => {

  it("is kept while the main thread is blocked for four leases, and lost that way without the thread", { timeout: 60_000 }, async () => {
    const config = makeConfig();
    const storage: Storage = await storageFromConfig(config);
    const lock = await acquireLock(storage, LOCK_KEY, { id: "restore-b1", operation: "restore" }, { thread: { config, ...LEASE } });
    expect(Date.parse(lock.record.expiresAt) - Date.parse(lock.record.heartbeatAt)).toBe(LEASE.ttlMs);
    // Another host tries to take the lock two leases into the block, as a JobTask's recovery would.
    expect(await contendWhileBlocked(config)).toBe("conflict");
    expect((await readLock(storage, LOCK_KEY))?.id).toBe("restore-b1");
    await lock.release();
    expect(await readLock(storage, LOCK_KEY)).toBeNull();

    // The same wait with the heartbeat on the main thread: the lease runs out and the other host takes the lock.
    const plain = await acquireLock(storage, LOCK_KEY, { id: "restore-b2", operation: "restore" }, LEASE);
    expect(await contendWhileBlocked(config)).toBe("took");
    await plain.release(); // lost: deletes nothing of the other's
    expect(await readLock(storage, LOCK_KEY)).toBeNull(); // the other released its own
  });

  it("of a holder on another host that is SIGKILLed expires one lease after its last beat, and only then is its restore rolled back", { timeout: 60_000 }, async () => {
    const config = makeConfig();
    const storage = await storageFromConfig(config);
    // A child process takes the lease with its beat thread, as a restore on another task would, and is killed.
    const { child, line } = holderProcess(config, `
      await acquireLock(storage, "${LOCK_KEY}", { id: "restore-killed", operation: "restore", host: "ip-10-0-0-7#deadbeef" }, { thread: { config, ttlMs: ${LEASE.ttlMs}, heartbeatMs: ${LEASE.heartbeatMs} } });
      process.stdout.write("held\\n");
      setInterval(() => {}, 1000);`);
    expect(await line(1)).toBe("held");
    await sleep(3 * LEASE.ttlMs); // it beats all along: alive
    const alive = await readLock(storage, LOCK_KEY);
    expect(alive?.id).toBe("restore-killed");
    expect(isStale(alive!, new Date())).toBe(false);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const last = await readLock(storage, LOCK_KEY);
    const killedAt = Date.now();

    // A journal on the CRM side, as the killed restore left it: recovery waits for the lease, then ends it.
    const crm = makeCrm();
    const engine = { ...makeTestEngine(crm.root), storage, config: { ...loadConfig({ CRM_ROOT: crm.root, BACKUP_DIR: config.backupDir }), storage: config.storage } };
    const journal = journalPath(engine.config);
    // A restore that had staged and changed nothing yet: its recovery only cleans up.
    await writeJournal(journal, {
      version: 1, id: "j-test", backupId: "manual-20261207T000000Z-000000", components: ["uploads"], actor: "test", startedAt: new Date().toISOString(),
      pid: 999_999, host: "ip-10-0-0-7#deadbeef", staging: path.join(crm.root, ".colab-restore-staging-test"), phase: "staging", begun: [], steps: [],
    });
    expect(await recoverInterruptedRestore(engine)).toBeNull(); // lease not over: the holder may be alive
    expect(existsSync(journal)).toBe(true);
    await sleep(Math.max(0, Date.parse(last!.expiresAt) - Date.now()) + 100);
    expect(Date.now() - killedAt).toBeLessThan(LEASE.ttlMs + 5000);
    const recovered = await recoverInterruptedRestore(engine);
    expect(recovered?.outcome).toBe("cleaned-up");
    expect(existsSync(journal)).toBe(false);
    expect(await readLock(storage, LOCK_KEY)).toBeNull();
  });
});

describe("a restore through the CLI", () => {
  it("holds the short lease: the lock a killed restore leaves expires RESTORE_LEASE.ttlMs after its last beat", { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    const cwd = tempDir("lease-cli-");
    const store = path.join(cwd, "backups");
    const engine = makeTestEngine(crm.root, store);
    const backup = await runBackup(engine, { type: "manual" });
    if (backup.skipped) throw new Error("expected a backup");
    mutateCrm(crm.root, 9001);
    const run = await spawnCli(["restore", backup.manifest.id, "--components", "uploads", "--confirm", "CONFIRM_RESTORE", "--json"], {
      cwd,
      env: { CRM_ROOT: crm.root, BACKUP_DIR: store, NODE_OPTIONS: `--import ${path.resolve("test/fault/journal-kill-preload.mjs")}`, COLAB_TEST_KILL_AT_JOURNAL_WRITE: "1" },
    }).done;
    expect(run.signal, run.stderr).toBe("SIGKILL");
    const left = JSON.parse(readFileSync(path.join(store, LOCK_KEY), "utf8")) as { operation: string; heartbeatAt: string; expiresAt: string };
    expect(left.operation).toBe("restore");
    expect(Date.parse(left.expiresAt) - Date.parse(left.heartbeatAt)).toBe(RESTORE_LEASE.ttlMs);
  });
});
