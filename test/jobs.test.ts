// The local job runner: 202-style submission, one job at a time, progress and results readable from the store.
import { describe, expect, it } from "vitest";
import { listBackups } from "../core/catalog.ts";
import { ConflictError, ValidationError } from "../core/errors.ts";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { jobKey, listJobs, readJob, type Job } from "../core/jobs/records.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";

describe("LocalJobRunner", () => {
  it("answers at once with the job and the backup id, refuses a second job while one runs, and records the result", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const finished: Job[] = [];
    const runner = new LocalJobRunner(engine, { onFinished: (j) => void finished.push(j) });
    const job = await runner.submitBackup({ type: "manual", description: "from the API", actor: "admin@example.com" });
    expect(job).toMatchObject({ kind: "backup", state: "queued", backupId: expect.stringMatching(/^manual-/), actor: "admin@example.com" });
    await expect(runner.submitBackup({ type: "manual", actor: "x" })).rejects.toBeInstanceOf(ConflictError);
    await runner.idle();
    const done = await readJob(engine.storage, job.id);
    expect(done).toMatchObject({ state: "succeeded", backupId: job.backupId, startedAt: expect.any(String), finishedAt: expect.any(String) });
    expect((await listBackups(engine.storage)).map((b) => b.id)).toEqual([job.backupId]);
    expect(finished.map((j) => j.state)).toEqual(["succeeded"]);

    const verify = await runner.submitVerify(job.backupId!, "admin");
    await runner.idle();
    expect(await runner.get(verify.id)).toMatchObject({ state: "succeeded", result: { ok: true } });

    await expect(runner.submitRestore({ backupId: job.backupId!, components: ["uploads"], confirm: "nope", actor: "admin" })).rejects.toBeInstanceOf(ValidationError);
    const restore = await runner.submitRestore({ backupId: job.backupId!, components: ["uploads"], confirm: "CONFIRM_RESTORE", actor: "admin" });
    await runner.idle();
    expect(await runner.get(restore.id)).toMatchObject({ state: "succeeded", result: { preRestoreBackupId: expect.stringMatching(/^pre-restore-/) } });
  });

  it("records a failed job with the error's code and message", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { DATABASE_PATH: "/nonexistent/dev.db" });
    const runner = new LocalJobRunner(engine);
    const job = await runner.submitBackup({ type: "manual", actor: "admin" });
    await runner.idle();
    expect(await readJob(engine.storage, job.id)).toMatchObject({ state: "failed", error: { code: "not_found", message: expect.stringContaining("does not exist") } });
  });

  it("lists jobs newest first and skips the worker's claim objects beside them", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const runner = new LocalJobRunner(engine);
    const job = await runner.submitBackup({ type: "manual", actor: "admin" });
    await runner.idle();
    await engine.storage.createExclusive(`${jobKey(job.id)}.claim`, JSON.stringify({ claimedAt: "now" }));
    expect((await listJobs(engine.storage)).map((j) => j.id)).toEqual([job.id]);
  });
});
