// A restore job that a reader failed as worker_lost is still ended by restore recovery, whose journal knows the outcome.
import { cpSync, mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { newJobId, readJob, saveJob, type Job } from "../core/jobs/records.ts";
import { journalPath, writeJournal, type Journal } from "../core/restore-journal.ts";
import { recoverInterruptedRestore } from "../core/restore-recovery.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";

describe("restore job after a lost worker", () => {
  it("reports worker_lost while the journal waits, then takes recovery's verdict (completed) when the journal is replayed", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root);
    const at = new Date(Date.now() - 10 * 60_000).toISOString();
    const job: Job = { id: newJobId(new Date(at)), kind: "restore", state: "running", actor: "admin", createdAt: at, startedAt: at, updatedAt: at, backupId: "manual-20261129T000000Z-abcdef", request: { components: ["uploads"] } };
    await saveJob(engine.storage, job);
    // The worker died after every swap was done: only the cleanup of the aside copy and staging folder was left.
    const staging = path.join(crm.root, ".colab-restore-feed");
    const aside = path.join(crm.root, "uploads.colab-old-feed");
    mkdirSync(staging);
    cpSync(path.join(crm.root, "uploads"), aside, { recursive: true });
    const journal: Journal = {
      version: 1, id: "feed", backupId: job.backupId!, components: ["uploads"], actor: "admin", startedAt: at, jobId: job.id,
      pid: 999_999, host: "elsewhere", staging, phase: "committing", begun: ["uploads"],
      steps: [{ kind: "path", component: "uploads", target: path.join(crm.root, "uploads"), staged: path.join(staging, "files/uploads"), aside, near: `${aside}-near`, hadOriginal: true }],
    };
    await writeJournal(journalPath(engine.config), journal);

    const lost = await new LocalJobRunner(engine).get(job.id);
    expect(lost).toMatchObject({ state: "failed", error: { code: "worker_lost", message: expect.stringContaining("restore journal is replayed or rolled back at the next operation") } });
    expect(await recoverInterruptedRestore(engine)).toMatchObject({ outcome: "completed" });
    const ended = await readJob(engine.storage, job.id);
    expect(ended).toMatchObject({ state: "succeeded", result: { recovered: expect.any(String) } });
    expect(ended.error).toBeUndefined();
  });
});
