// Fault: `colab-backup restore` of all four components SIGKILLed at random points, some inside the swap, 10 times.
// After each kill and the next command (`status`), the CRM must equal the state before the restore or the restored state,
// all four components together, with no staging or set-aside copies left and no restore shown as running. Runtime: ~50 s.
// COLAB_TEST_SWAP_DELAY_MS (test-only) makes the restore pause before each swap step, widening the window a kill can hit.
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { runRestore } from "../../core/restore.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { addBulk, json, restoreLeftovers, mutateCrm, rng, settledState, spawnCli, storeLockPid, type CrmState } from "./helpers.ts";
import { recordFault } from "./record.ts";

const TRIALS = 10;
const MAX_ATTEMPTS = 16;
const SEED = 11;
const SWAP_DELAY_MS = 250;
const ALL = "database,uploads,config,logs";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Changes every component (helpers.ts mutateCrm); the added customer's id is above the test's own rows. */
const mutate = (root: string): void => mutateCrm(root, 9001);



describe("fault: kill -9 during restore", () => {
  it(`${TRIALS} random SIGKILLs, half inside the swap: the CRM is before or after as a whole (~50 s)`, { timeout: 200_000 }, async () => {
    const crm = makeCrm();
    addBulk(crm.root, 2_000_000, SEED);
    const cwd = tempDir("fault-killr-");
    const store = path.join(cwd, "backups");
    const engine = makeTestEngine(crm.root, store);
    const backup = await runBackup(engine, { type: "manual" });
    if (backup.skipped) throw new Error("manual backup skipped");
    const id = backup.manifest.id;
    const env = { CRM_ROOT: crm.root, COLAB_TEST_SWAP_DELAY_MS: String(SWAP_DELAY_MS) };
    const restoreArgs = ["restore", id, "--components", ALL, "--confirm", "CONFIRM_RESTORE", "--json"];

    // One uninterrupted restore gives the "after" state and how long the work takes once the lock is held.
    mutate(crm.root);
    const before = settledState(crm.root);
    const full = spawnCli(restoreArgs, { cwd, env });
    while (storeLockPid(store) !== full.child.pid && full.child.exitCode === null) await sleep(5);
    const lockedAt = Date.now();
    while (!swapping(crm.root) && full.child.exitCode === null) await sleep(5);
    const swapAt = Date.now();
    const fullRun = await full.done;
    expect(fullRun.code, fullRun.stderr).toBe(0);
    const workMs = Date.now() - lockedAt;
    const swapMs = Math.max(Date.now() - swapAt, 50);
    const after = settledState(crm.root);
    expect(isDeepStrictEqual(after, before)).toBe(false);
    mutate(crm.root);
    expect(settledState(crm.root)).toEqual(before);

    const random = rng(SEED);
    const trials: { i: number; phase: string; at: number; killed: boolean; outcome: string; leftovers: string[]; running: unknown; statusCode: number | null }[] = [];
    // Until TRIALS kills have landed mid-run (a restore that finished first is still checked), with a bound on attempts.
    for (let i = 0; trials.filter((t) => t.killed).length < TRIALS && i < MAX_ATTEMPTS; i++) {
      // Even trials: anywhere in the work; odd trials: inside the swap (the journal says "swapping"; each of the four
      // steps waits SWAP_DELAY_MS first, so the window is over a second long).
      const inSwap = i % 2 === 1;
      const { child, done } = spawnCli(restoreArgs, { cwd, env });
      while (child.exitCode === null && storeLockPid(store) !== child.pid) await sleep(5);
      if (inSwap) while (child.exitCode === null && !swapping(crm.root)) await sleep(5);
      // Within the first 60% of the window measured on the uninterrupted run, so a faster run is still hit mid-way.
      const at = Math.round(random() * (inSwap ? swapMs * 0.9 : workMs * 0.6));
      await sleep(at);
      child.kill("SIGKILL");
      const run = await done;

      const status = await spawnCli(["status", "--json"], { cwd, env: { CRM_ROOT: crm.root } }).done;
      const state = settledState(crm.root);
      const outcome = isDeepStrictEqual(state, before) ? "before" : isDeepStrictEqual(state, after) ? "after" : mixedParts(state, before, after);
      const running = status.code === 0 ? (json<{ running?: { operation?: string } | null }>(status).running ?? null) : "status failed";
      trials.push({ i, phase: inSwap ? "in swap" : "anywhere", at, killed: run.signal === "SIGKILL", outcome, leftovers: restoreLeftovers(crm.root), running, statusCode: status.code });
      if (process.env.FAULT_DEBUG) console.error(JSON.stringify(trials.at(-1)));

      // Back to "before" for the next trial, whatever this one left.
      for (const l of restoreLeftovers(crm.root)) rmSync(path.join(crm.root, l), { recursive: true, force: true });
      if (outcome !== "before") {
        if (outcome !== "after") await runRestore(engine, { backupId: id, components: ALL.split(","), confirm: "CONFIRM_RESTORE" });
        mutate(crm.root);
      }
      expect(settledState(crm.root)).toEqual(before);
    }

    const mixed = trials.filter((t) => t.outcome !== "before" && t.outcome !== "after");
    const failed = trials.filter((t) => mixed.includes(t) || t.leftovers.length || t.statusCode !== 0 || isRestoreRunning(t.running));
    recordFault({
      suite: "kill-restore",
      fault: `SIGKILL during \`restore\` (swap delay ${SWAP_DELAY_MS} ms), then \`status\``,
      trials: trials.length,
      held: trials.length - failed.length,
      lost: mixed.length,
      note: `seed ${SEED}, work ${workMs} ms, swap ${swapMs} ms; before ${trials.filter((t) => t.outcome === "before").length}, after ${trials.filter((t) => t.outcome === "after").length}, mixed ${mixed.length}; leftovers ${trials.filter((t) => t.leftovers.length).length}, shown running ${trials.filter((t) => isRestoreRunning(t.running)).length}`,
    });
    expect(trials.filter((t) => t.killed).length).toBe(TRIALS);
    expect(mixed.map((t) => `trial ${t.i} (${t.phase}, +${t.at} ms): ${t.outcome}`)).toEqual([]);
    expect(trials.filter((t) => t.statusCode !== 0).map((t) => t.i)).toEqual([]);
    expect(trials.flatMap((t) => t.leftovers)).toEqual([]);
    expect(trials.filter((t) => isRestoreRunning(t.running)).map((t) => t.running)).toEqual([]);
  });
});

/** Whether the restore's journal says the swap has begun. */
function swapping(root: string): boolean {
  try {
    return (JSON.parse(readFileSync(path.join(root, ".colab-restore-journal.json"), "utf8")) as { phase?: string }).phase === "swapping";
  } catch {
    return false; // no journal yet, or caught mid-rename
  }
}

function isRestoreRunning(running: unknown): boolean {
  return running !== null && JSON.stringify(running).includes("restore");
}

/** Names which components are as before and which as after, e.g. "mixed: database=before, uploads=after, ...". */
function mixedParts(state: CrmState, before: CrmState, after: CrmState): string {
  const parts = (Object.keys(state) as (keyof CrmState)[]).map((k) => {
    const which = isDeepStrictEqual(state[k], before[k]) ? "before" : isDeepStrictEqual(state[k], after[k]) ? "after" : "neither";
    return `${k}=${which}`;
  });
  return `mixed: ${parts.join(", ")}`;
}
