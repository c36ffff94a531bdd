// Fault: races between processes on one store: three deliveries of one scheduled event, a backup against a cleanup, and
// two restores at once. Every process is the real CLI, all started together. Runtime: ~20 s.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { listBackups } from "../../core/catalog.ts";
import { verifyBackup } from "../../core/verify.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { addBulk, archivesWithoutManifest, cli, crmState, json, listFiles, restoreLeftovers, type Run } from "./helpers.ts";
import { recordFault } from "./record.ts";

const errorOf = (r: Run) => (r.code === 0 ? "" : (json<{ error?: { message?: string } }>(r).error?.message ?? r.stderr));

/** The store is consistent: every listed backup verifies, no archive lacks a manifest, no temp files remain. */
async function storeProblems(crmRoot: string, store: string): Promise<string[]> {
  const engine = makeTestEngine(crmRoot, store);
  const problems: string[] = [];
  for (const b of await listBackups(engine.storage)) {
    const report = await verifyBackup(engine, b.id);
    if (!report.ok) problems.push(`${b.id} does not verify: ${report.error}`);
  }
  problems.push(...archivesWithoutManifest(store).map((a) => `orphan archive ${a}`));
  problems.push(...listFiles(path.join(store, "temp")).map((f) => `temp leftover ${f.rel}`));
  return problems;
}

describe("fault: races", () => {
  it("three deliveries of one scheduled event: one backup, two report skipped with the winner's id (~5 s)", async () => {
    const crm = makeCrm();
    const cwd = tempDir("fault-race-slot-");
    const env = { CRM_ROOT: crm.root };
    const args = ["backup", "--type", "daily", "--scheduled-at", "2026-11-26T02:00:00Z", "--json"];
    const runs = await Promise.all([cli(args, { cwd, env }), cli(args, { cwd, env }), cli(args, { cwd, env })]);
    const engine = makeTestEngine(crm.root, path.join(cwd, "backups"));
    const listed = await listBackups(engine.storage);
    const made = runs.filter((r) => r.code === 0 && json(r).skipped === false);
    const winner = made[0] ? json<{ id: string }>(made[0]).id : undefined;
    const skipped = runs.filter((r) => r.code === 0 && json(r).skipped === true && json(r).id === winner);
    const held = listed.length === 1 && made.length === 1 && skipped.length === 2;
    recordFault({
      suite: "races",
      fault: "3 deliveries of one scheduled event at once",
      trials: 1,
      held: held ? 1 : 0,
      lost: listed.length > 1 ? 1 : 0,
      note: `exits ${runs.map((r) => r.code).join(",")}; ${listed.length} listed, ${made.length} made, ${skipped.length} skipped with the winner's id${runs.some((r) => r.code) ? `; ${runs.map(errorOf).filter(Boolean)[0]?.slice(0, 80)}` : ""}`,
    });
    expect(listed.map((b) => b.id)).toEqual(winner ? [winner] : ["(no winner)"]);
    expect(runs.map((r) => `${r.code} ${errorOf(r)}`).sort()).toEqual(["0 ", "0 ", "0 "]);
    expect(made).toHaveLength(1);
    expect(skipped).toHaveLength(2);
  });

  it("backup against cleanup, 3 trials: both end with a consistent store, a loser exits 1 naming the conflict (~10 s)", async () => {
    const crm = makeCrm();
    const cwd = tempDir("fault-race-cleanup-");
    const store = path.join(cwd, "backups");
    const engine = makeTestEngine(crm.root, store);
    // Retention keeps one daily: every cleanup has backups to remove while the backup runs.
    const env = { CRM_ROOT: crm.root, BACKUP_RETENTION_DAILY: "1" };
    const trials: { codes: (number | null)[]; errors: string[]; problems: string[] }[] = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) await runBackup(engine, { type: "daily" });
      const runs = await Promise.all([cli(["backup", "--type", "daily", "--json"], { cwd, env }), cli(["cleanup", "--json"], { cwd, env })]);
      trials.push({ codes: runs.map((r) => r.code), errors: runs.map(errorOf).filter(Boolean), problems: await storeProblems(crm.root, store) });
    }
    const bad = trials.filter((t) => t.problems.length || t.codes.some((c) => c !== 0 && c !== 1) || t.errors.some((e) => !/running|lock|conflict/i.test(e)));
    recordFault({
      suite: "races",
      fault: "backup and cleanup started together",
      trials: trials.length,
      held: trials.length - bad.length,
      lost: trials.filter((t) => t.problems.length).length,
      note: `exits ${trials.map((t) => t.codes.join("/")).join(", ")} (backup/cleanup)`,
    });
    expect(trials.flatMap((t) => t.problems)).toEqual([]);
    for (const t of trials) {
      expect(t.codes.every((c) => c === 0 || c === 1)).toBe(true);
      for (const e of t.errors) expect(e).toMatch(/running|lock|conflict/i);
    }
  });

  it("two restores at once: one runs, the other is refused with a conflict, the CRM ends as the backup (~5 s)", async () => {
    const crm = makeCrm();
    addBulk(crm.root, 3_000_000, 5);
    const cwd = tempDir("fault-race-restore-");
    const store = path.join(cwd, "backups");
    const engine = makeTestEngine(crm.root, store);
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("manual backup skipped");
    const backupState = crmState(crm.root);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "live, newer than the backup\n");
    writeFileSync(path.join(crm.root, "package.json"), '{"name":"crm","version":"3.0.0"}\n');
    const env = { CRM_ROOT: crm.root, COLAB_TEST_SWAP_DELAY_MS: "200" };
    const args = ["restore", out.manifest.id, "--components", "database,uploads,config,logs", "--confirm", "CONFIRM_RESTORE", "--json"];
    const runs = await Promise.all([cli(args, { cwd, env }), cli(args, { cwd, env })]);
    const codes = runs.map((r) => r.code).sort();
    const refusal = runs.map(errorOf).find(Boolean) ?? "";
    const endState = crmState(crm.root);
    const asBackup = JSON.stringify(endState) === JSON.stringify(backupState);
    const held = codes.join() === "0,1" && /running|lock|conflict/i.test(refusal) && asBackup && restoreLeftovers(crm.root).length === 0;
    recordFault({
      suite: "races",
      fault: "two restores of one backup started together",
      trials: 1,
      held: held ? 1 : 0,
      lost: asBackup ? 0 : 1,
      note: `exits ${codes.join("/")}; ${refusal.slice(0, 100)}`,
    });
    expect(codes).toEqual([0, 1]);
    expect(refusal).toMatch(/running|lock|conflict/i);
    expect(asBackup).toBe(true);
    expect(restoreLeftovers(crm.root)).toEqual([]);
  });
});
