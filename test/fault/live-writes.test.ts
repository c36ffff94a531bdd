// Fault: backups of a database another process writes to at ~100 transactions/s, in WAL and rollback-journal mode.
// Each of 10 snapshots per mode must pass integrity_check and show the writer's invariants. Runtime: ~8 s for both modes.
import { fork } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { DATABASE_ENTRY } from "../../core/manifest.ts";
import { exportStream } from "../../core/v2/export.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { REPO, tarExtract } from "./helpers.ts";
import { recordFault } from "./record.ts";

const BACKUPS = 10;
const RATE = 100;
const ACCOUNTS = 20;
/** Busy errors the writer may see (each a transaction lost to a 5 s busy timeout): none. A snapshot holds locks for ms. */
const MAX_WRITER_ERRORS = 0;

interface Stopped { commits: number; errors: string[]; seconds: number }

function startWriter(db: string) {
  const child = fork(fileURLToPath(new URL("./bank-writer.ts", import.meta.url)), [db, String(RATE), String(ACCOUNTS)], {
    cwd: REPO,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      child.on("message", (m: Record<string, unknown>) => m.type === type && resolve(m));
      child.once("exit", (code) => reject(new Error(`bank writer exited (${code}) before "${type}"`)));
    });
  return {
    ready: next("ready"),
    stop: async () => {
      const stopped = next("stopped");
      child.send("stop");
      return (await stopped) as unknown as Stopped;
    },
    kill: () => child.exitCode === null && child.kill("SIGKILL"),
  };
}

const writers: { kill: () => unknown }[] = [];
afterAll(() => writers.forEach((w) => w.kill()));

describe("fault: live writes during backups", () => {
  it.each(["wal", "delete"] as const)("10 backups under ~100 tx/s keep integrity and invariants (%s mode, ~6 s)", async (mode) => {
    const crm = makeCrm(undefined, mode);
    const setup = new Database(crm.db);
    setup.exec(`CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
                CREATE TABLE transfer (id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, amount INTEGER NOT NULL);
                CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
                INSERT INTO meta VALUES ('transfers', 0);`);
    const add = setup.prepare("INSERT INTO account (id, balance) VALUES (?, 1000)");
    for (let i = 1; i <= ACCOUNTS; i++) add.run(i);
    setup.close();
    const store = tempDir("fault-live-store-");
    const engine = makeTestEngine(crm.root, store);

    const writer = startWriter(crm.db);
    writers.push(writer);
    await writer.ready;
    const snaps: { id: string; integrity: string; total: number; counter: number; rows: number }[] = [];
    let stopped: Stopped;
    try {
      for (let i = 0; i < BACKUPS; i++) {
        await new Promise((r) => setTimeout(r, 150 + i * 20)); // let transfers land between snapshots
        const out = await runBackup(engine, { type: "manual", components: ["database"] });
        if (out.skipped) throw new Error("unexpected skip");
        // The standard archive of the backup, whatever the format (v2, the default, is exported; v1 is stored as one).
        const archive = path.join(tempDir("fault-live-tgz-"), "backup.tar.gz");
        await pipeline(await exportStream(engine.storage, out.manifest), createWriteStream(archive));
        const file = tarExtract(archive, DATABASE_ENTRY, tempDir("fault-live-x-"));
        const db = new Database(file, { readonly: true });
        try {
          snaps.push({
            id: out.manifest.id,
            integrity: (db.pragma("integrity_check", { simple: true }) as string),
            total: (db.prepare("SELECT sum(balance) AS s FROM account").get() as { s: number }).s,
            counter: (db.prepare("SELECT v FROM meta WHERE k = 'transfers'").get() as { v: number }).v,
            rows: (db.prepare("SELECT count(*) AS n FROM transfer").get() as { n: number }).n,
          });
        } finally {
          db.close();
        }
      }
    } finally {
      stopped = await writer.stop();
    }

    const bad = snaps.filter((s) => s.integrity !== "ok" || s.total !== ACCOUNTS * 1000 || s.counter !== s.rows);
    const rate = stopped.commits / stopped.seconds;
    recordFault({
      suite: "live-writes",
      fault: `${mode}: backup while ~${RATE} tx/s commit`,
      trials: snaps.length,
      held: snaps.length - bad.length,
      lost: bad.length,
      note: `${stopped.commits} tx at ${rate.toFixed(0)}/s, ${stopped.errors.length} writer errors (bound ${MAX_WRITER_ERRORS}); rows seen ${snaps[0]?.rows}..${snaps.at(-1)?.rows}`,
    });
    expect(snaps).toHaveLength(BACKUPS);
    expect(bad).toEqual([]);
    expect(stopped.errors.slice(0, 3)).toEqual([]);
    expect(stopped.errors.length).toBeLessThanOrEqual(MAX_WRITER_ERRORS);
    // The writes were really live: the rate held and the snapshots saw the counter move.
    expect(rate).toBeGreaterThan(RATE * 0.7);
    for (let i = 1; i < snaps.length; i++) expect(snaps[i]!.rows).toBeGreaterThan(snaps[i - 1]!.rows);
  });
});
