// Fault: `colab-backup restore` of all four components SIGKILLed right after each journal write in turn, and inside the
// database's page copy and the roll-forward, on the path where the pre-restore backup's own database snapshot becomes
// the rollback copy (core/restore-rollback-copy.ts, rollbackFromSnapshot). kill-restore.test.ts writes the database
// just before each run, so its live identity is never settled and that path is never taken there.
// Proof the path is taken, from outside the code: journal-kill-preload.mjs logs every rename, and the snapshot must be
// renamed from staging's pre-restore.db to rollback.db. After each kill and `status`, the CRM must be exactly the state
// before or after the restore (which one is known from how far the journal got), and the live database must pass
// integrity_check. Runtime: ~1-3 min.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { runRestore } from "../../core/restore.ts";
import { SETTLED_MS } from "../../core/v2/db-reuse.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { mutateCrm, restoreLeftovers, settledState, spawnCli } from "./helpers.ts";
import { recordFault } from "./record.ts";

const ALL = "database,uploads,config,logs";
const PRELOAD = path.join(import.meta.dirname, "journal-kill-preload.mjs");
const JOURNAL = ".colab-restore-journal.json";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Changes every component (helpers.ts mutateCrm); the added customer's id is above the test's own rows. */
const mutate = (root: string): void => mutateCrm(root, 900001);

/** A database large enough that SQLite's page copy into the live file takes a while (~8 MB). */
function growDatabase(file: string): void {
  const db = new Database(file);
  const ins = db.prepare(`INSERT INTO "Customer" (name, note) VALUES (?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < 40_000; i++) ins.run(`bulk customer ${i}`, `note ${i} `.repeat(20));
  })();
  db.close();
}

/**
 * Writes the live database without changing its content (a new identity, so the pre-restore backup must snapshot it
 * rather than reuse the last record), then waits until that identity counts as settled: the state a restore meets when
 * the app has not written for a few seconds, and the only one where the snapshot can serve as the rollback copy.
 */
async function freshSettledIdentity(file: string): Promise<void> {
  const db = new Database(file);
  // Two commits that cancel out (a no-op UPDATE is not written at all).
  db.exec(`UPDATE "Deal" SET amount = amount + 1 WHERE id = 1; UPDATE "Deal" SET amount = amount - 1 WHERE id = 1;`);
  db.close();
  await sleep(SETTLED_MS + 300);
}


function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("PRAGMA integrity_check").pluck().all() as string[]).join("; ");
  } finally {
    db.close();
  }
}

/** The live database's bytes (file and -wal), to tell whether a kill landed after the restore began writing it. */
function liveBytes(file: string): string {
  const h = createHash("sha256");
  for (const f of [file, `${file}-wal`]) if (existsSync(f)) h.update(readFileSync(f));
  return h.digest("hex");
}

interface Renames { journalWrites: number[]; snapshotAsRollback: boolean; snapshotKept: boolean }

/** Reads the preload's log: when each journal write landed, and whether the snapshot was kept and became the rollback copy. */
function readRenames(log: string): Renames {
  const lines = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  const parsed = lines.map((l) => {
    const [at, rest] = [Number(l.slice(0, l.indexOf(" "))), l.slice(l.indexOf(" ") + 1)];
    const [from, to] = rest.split(" -> ") as [string, string];
    return { at, from, to };
  });
  return {
    journalWrites: parsed.filter((r) => r.to.endsWith(JOURNAL)).map((r) => r.at),
    snapshotKept: parsed.some((r) => r.to.endsWith(`${path.sep}pre-restore.db`)),
    snapshotAsRollback: parsed.some((r) => r.from.endsWith(`${path.sep}pre-restore.db`) && r.to.endsWith(`${path.sep}rollback.db`)),
  };
}

describe("fault: kill -9 at every journal step, the pre-restore snapshot as rollback copy", () => {
  it("after each kill and `status` the CRM is before or after as a whole and the database passes integrity_check", { timeout: 400_000 }, async () => {
    const crm = makeCrm();
    growDatabase(crm.db);
    const cwd = tempDir("fault-killsteps-");
    const store = path.join(cwd, "backups");
    const engine = makeTestEngine(crm.root, store);
    const backup = await runBackup(engine, { type: "manual" });
    if (backup.skipped) throw new Error("manual backup skipped");
    const id = backup.manifest.id;
    const restoreArgs = ["restore", id, "--components", ALL, "--confirm", "CONFIRM_RESTORE", "--json"];
    let n = 0;
    const run = async (kill: { at?: number; delayMs?: number }) => {
      const log = path.join(cwd, `renames-${n++}.log`);
      const env = {
        CRM_ROOT: crm.root,
        NODE_OPTIONS: `--import ${PRELOAD}`,
        COLAB_TEST_RENAME_LOG: log,
        ...(kill.at ? { COLAB_TEST_KILL_AT_JOURNAL_WRITE: String(kill.at) } : {}),
        ...(kill.delayMs ? { COLAB_TEST_KILL_DELAY_MS: String(kill.delayMs) } : {}),
      };
      const result = await spawnCli(restoreArgs, { cwd, env }).done;
      return { result, renames: readRenames(log) };
    };

    // One uninterrupted restore: the "after" state, how many journal writes a restore makes, and how long the
    // database step takes (from the write that begins it to the one that says "committing").
    mutate(crm.root);
    await freshSettledIdentity(crm.db);
    const before = settledState(crm.root);
    const full = await run({});
    expect(full.result.code, full.result.stderr).toBe(0);
    expect(full.renames.snapshotAsRollback, "the uninterrupted restore took the snapshot as its rollback copy").toBe(true);
    const writes = full.renames.journalWrites.length;
    const committing = writes; // the last journal write says "committing"; removing it is not a rename
    const databaseBegun = writes - 1; // the database is the last component swapped
    const dbStepMs = Math.max(full.renames.journalWrites[writes - 1]! - full.renames.journalWrites[writes - 2]!, 4);
    const after = settledState(crm.root);
    expect(isDeepStrictEqual(after, before)).toBe(false);
    mutate(crm.root);
    expect(settledState(crm.root)).toEqual(before);

    // Right after every journal write; then inside the database step (a worker thread kills while SQLite copies
    // pages on the main one) at fractions of the time it took; then inside the roll-forward.
    const kills: { at: number; delayMs?: number }[] = [
      ...Array.from({ length: writes }, (_, i) => ({ at: i + 1 })),
      ...[0.15, 0.3, 0.45, 0.6, 0.75].map((f) => ({ at: databaseBegun, delayMs: Math.max(1, Math.round(dbStepMs * f)) })),
      ...[1, 5].map((delayMs) => ({ at: committing, delayMs })),
    ];
    const trials: { kill: string; killed: boolean; expected: string; outcome: string; rollbackFromSnapshot: boolean; liveTouched: boolean; integrity: string; statusCode: number | null; leftovers: string[] }[] = [];
    for (const kill of kills) {
      await freshSettledIdentity(crm.db);
      const liveBefore = liveBytes(crm.db);
      const { result, renames } = await run(kill);
      const liveTouched = liveBytes(crm.db) !== liveBefore;
      const status = await spawnCli(["status", "--json"], { cwd, env: { CRM_ROOT: crm.root } }).done;
      const state = settledState(crm.root);
      // Once "committing" is durable the restore is finished by whoever comes next; before it, undone.
      const expected = renames.journalWrites.length >= committing ? "after" : "before";
      const outcome = isDeepStrictEqual(state, before) ? "before" : isDeepStrictEqual(state, after) ? "after" : "mixed";
      trials.push({
        kill: `journal write ${kill.at}${kill.delayMs ? ` +${kill.delayMs} ms` : ""}`,
        killed: result.signal === "SIGKILL", expected, outcome, liveTouched,
        rollbackFromSnapshot: renames.snapshotAsRollback,
        integrity: integrity(crm.db), statusCode: status.code, leftovers: restoreLeftovers(crm.root),
      });
      if (process.env.FAULT_DEBUG) console.error(JSON.stringify(trials.at(-1)), renames);
      // The path under test, proven per trial: from the "swapping" write (3rd) on, the plan was made with the
      // snapshot as the rollback copy; from the 2nd, the pre-restore backup had kept it.
      if (kill.at >= 3) expect(renames.snapshotAsRollback, `${trials.at(-1)!.kill}: rollback copy from the snapshot`).toBe(true);
      if (kill.at >= 2) expect(renames.snapshotKept, `${trials.at(-1)!.kill}: snapshot kept`).toBe(true);

      // Back to "before" for the next trial.
      for (const l of restoreLeftovers(crm.root)) rmSync(path.join(crm.root, l), { recursive: true, force: true });
      if (outcome !== "before") {
        if (outcome !== "after") await runRestore(engine, { backupId: id, components: ALL.split(","), confirm: "CONFIRM_RESTORE" });
        mutate(crm.root);
      }
      expect(settledState(crm.root)).toEqual(before);
    }

    // A delayed kill may come after the process ended on its own (a fast roll-forward); that trial still counts.
    const bad = trials.filter((t) => (!t.killed && !t.kill.includes("+")) || t.outcome !== t.expected || t.integrity !== "ok" || t.statusCode !== 0 || t.leftovers.length);
    const touched = trials.filter((t) => t.liveTouched && t.expected === "before");
    recordFault({
      suite: "kill-restore-steps",
      fault: "SIGKILL after each restore journal write, inside the database copy and the roll-forward (rollback copy = pre-restore snapshot), then `status`",
      trials: trials.length,
      held: trials.length - bad.length,
      lost: trials.filter((t) => t.outcome === "mixed" || t.integrity !== "ok").length,
      note: `${writes} journal writes; database step ${dbStepMs} ms; live database already written when killed (rolled back from the snapshot) in ${touched.length}; before ${trials.filter((t) => t.outcome === "before").length}, after ${trials.filter((t) => t.outcome === "after").length}`,
    });
    expect(bad.map((t) => `${t.kill}: ${JSON.stringify(t)}`)).toEqual([]);
    // At least one kill landed after the restore had begun writing the live database: the rollback copy really undid one.
    expect(touched.length).toBeGreaterThan(0);
    expect(statSync(crm.db).size).toBeGreaterThan(0);
  });
});
