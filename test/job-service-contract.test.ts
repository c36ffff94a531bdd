// One contract for JobService, run against the local runner and the event-driven service (in-process bus + the worker's core).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Engine } from "../core/engine.ts";
import { ConflictError } from "../core/errors.ts";
import { InProcessBus } from "../core/events/bus.ts";
import { CLEANUP_PATTERN, WORKER_PATTERN } from "../core/events/patterns.ts";
import { EventJobService } from "../core/jobs/event-service.ts";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { newJobId, readJob, saveJob, type Job, type JobService } from "../core/jobs/records.ts";
import { handleWorkEvent } from "../core/jobs/worker.ts";
import type { Storage } from "../core/storage/storage.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";

interface Deadline {
  lostAfterMs: number;
  heartbeatMs: number;
}
interface Service {
  jobs: JobService;
  /** Resolves once the submitted work has ended. */
  settle(): Promise<void>;
}

const IMPLEMENTATIONS: { name: string; make(engine: Engine, d: Deadline): Service }[] = [
  {
    name: "LocalJobRunner",
    make(engine, d) {
      const runner = new LocalJobRunner(engine, {}, d);
      return { jobs: runner, settle: () => runner.idle() };
    },
  },
  {
    name: "EventJobService + worker",
    make(engine, d) {
      // The worker Lambda's core, subscribed as infra's rule subscribes the worker function.
      const bus = new InProcessBus(engine.log);
      const work = (e: Parameters<typeof handleWorkEvent>[1]) => handleWorkEvent(engine, e, bus, { heartbeatMs: d.heartbeatMs }).then(() => undefined);
      bus.subscribe(WORKER_PATTERN, work);
      // The cleanup function, which handles cleanup.requested with the same core (functions/cleanup.ts).
      bus.subscribe(CLEANUP_PATTERN, work);
      return { jobs: new EventJobService(engine, bus, { lostAfterMs: d.lostAfterMs }), settle: () => bus.drain() };
    },
  },
];

/** Holds every archive (v1) or pack (v2) upload until opened: a real backup that stays running, with the store lock held once reached. */
function gateArchives(engine: Engine): { open(): void; reached: Promise<void> } {
  let open!: () => void;
  let reach!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (reach = r));
  const inner = engine.storage;
  engine.storage = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "put") return async (key: string, ...rest: unknown[]) => {
        if (key.endsWith(".tar.gz") || key.startsWith("data/packs/")) {
          reach();
          await opened;
        }
        return (inner.put as (...a: unknown[]) => unknown).call(inner, key, ...rest);
      };
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Storage;
  return { open, reached };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(IMPLEMENTATIONS)("JobService contract: $name", ({ make }) => {
  const gates: { open(): void }[] = [];
  afterEach(() => gates.forEach((g) => g.open()));

  it("answers a submission at once as queued, then records progress and success", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const svc = make(engine, { lostAfterMs: 60_000, heartbeatMs: 1000 });
    const job = await svc.jobs.submitBackup({ type: "manual", description: "contract", actor: "admin@example.com" });
    expect(job).toMatchObject({ kind: "backup", state: "queued", actor: "admin@example.com", backupId: expect.stringMatching(/^manual-/) });
    await svc.settle();
    const done = await svc.jobs.get(job.id);
    expect(done).toMatchObject({ state: "succeeded", backupId: job.backupId, startedAt: expect.any(String), finishedAt: expect.any(String), updatedAt: expect.any(String) });
    expect(done.progress).toMatchObject({ phase: expect.any(String), done: expect.any(Number), total: expect.any(Number) });
    expect((await svc.jobs.list()).map((j) => [j.id, j.state])).toContainEqual([job.id, "succeeded"]);
  });

  it("runs cleanup as a job whose result is the cleanup outcome, and refuses it with 409 while a backup runs", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const gate = gateArchives(engine);
    gates.push(gate);
    const svc = make(engine, { lostAfterMs: 60_000, heartbeatMs: 1000 });
    const backup = await svc.jobs.submitBackup({ type: "manual", actor: "admin" });
    await gate.reached;
    await expect(svc.jobs.submitCleanup("admin")).rejects.toBeInstanceOf(ConflictError);
    gate.open();
    await svc.settle();
    const job = await svc.jobs.submitCleanup("admin@example.com");
    expect(job).toMatchObject({ kind: "cleanup", state: "queued", actor: "admin@example.com" });
    await svc.settle();
    expect(await svc.jobs.get(job.id)).toMatchObject({ state: "succeeded", result: { dryRun: false, removed: [], keep: [{ id: backup.backupId }] } });
  });

  it("carries a restore's include to the work: only the chosen file comes back", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2" });
    const svc = make(engine, { lostAfterMs: 60_000, heartbeatMs: 1000 });
    const backup = await svc.jobs.submitBackup({ type: "manual", actor: "admin" });
    await svc.settle();
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "changed a\n");
    writeFileSync(path.join(crm.root, "uploads/empty.txt"), "changed empty\n");
    const job = await svc.jobs.submitRestore({ backupId: backup.backupId!, components: ["uploads"], confirm: "CONFIRM_RESTORE", actor: "admin", include: ["uploads/a.txt"] });
    await svc.settle();
    expect(await svc.jobs.get(job.id)).toMatchObject({ state: "succeeded", request: { include: ["uploads/a.txt"] } });
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("alpha\n");
    expect(readFileSync(path.join(crm.root, "uploads/empty.txt"), "utf8")).toBe("changed empty\n");
  });

  it("records a failure with the error's code and message", async () => {
    const engine = makeTestEngine(makeCrm().root, undefined, { DATABASE_PATH: "/nonexistent/dev.db" });
    const svc = make(engine, { lostAfterMs: 60_000, heartbeatMs: 1000 });
    const job = await svc.jobs.submitBackup({ type: "manual", actor: "admin" });
    await svc.settle();
    expect(await svc.jobs.get(job.id)).toMatchObject({ state: "failed", error: { code: "not_found", message: expect.stringContaining("does not exist") } });
  });

  it("refuses a second backup with 409 while one runs, and keeps a live job running past the deadline by its heartbeat", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const gate = gateArchives(engine);
    gates.push(gate);
    const svc = make(engine, { lostAfterMs: 400, heartbeatMs: 50 });
    const job = await svc.jobs.submitBackup({ type: "manual", actor: "admin" });
    await gate.reached;
    expect((await readJob(engine.storage, job.id)).state).toBe("running");
    await expect(svc.jobs.submitBackup({ type: "manual", actor: "other" })).rejects.toBeInstanceOf(ConflictError);
    const first = (await readJob(engine.storage, job.id)).updatedAt!;
    await sleep(1000); // well past the 400 ms deadline: only the heartbeat keeps the job alive
    const later = await svc.jobs.get(job.id);
    expect(later.state).toBe("running");
    expect((await readJob(engine.storage, job.id)).updatedAt! > first).toBe(true);
    gate.open();
    await svc.settle();
    expect(await svc.jobs.get(job.id)).toMatchObject({ state: "succeeded" });
  });

  it("fails a job whose worker died once its heartbeat is past the deadline, records that once, and shows it in the list", async () => {
    const engine = makeTestEngine(makeCrm().root);
    const svc = make(engine, { lostAfterMs: 2 * 60_000, heartbeatMs: 1000 });
    const now = engine.now().getTime();
    // What a worker killed mid-backup leaves: a running record whose heartbeat stopped three minutes ago.
    const dead: Job = {
      id: newJobId(new Date(now - 5 * 60_000)), kind: "backup", state: "running", actor: "admin", createdAt: new Date(now - 5 * 60_000).toISOString(),
      startedAt: new Date(now - 5 * 60_000).toISOString(), updatedAt: new Date(now - 3 * 60_000).toISOString(), backupId: "manual-20261129-000000-dead", request: { type: "manual" },
    };
    // And one still within its deadline, which must stay running.
    const alive: Job = { ...dead, id: newJobId(new Date(now - 60_000)), updatedAt: new Date(now - 30_000).toISOString() };
    await saveJob(engine.storage, dead);
    await saveJob(engine.storage, alive);

    const seen = await svc.jobs.get(dead.id);
    expect(seen).toMatchObject({ state: "failed", finishedAt: expect.any(String), error: { code: "worker_lost", message: expect.stringContaining(`last seen ${dead.updatedAt}`) } });
    const stored = await readJob(engine.storage, dead.id);
    expect(stored).toMatchObject({ state: "failed", error: { code: "worker_lost" } });
    // A second reader finds the recorded verdict, unchanged.
    expect(await svc.jobs.get(dead.id)).toEqual(stored);
    expect(await svc.jobs.get(alive.id)).toMatchObject({ state: "running" });
    const listed = Object.fromEntries((await svc.jobs.list()).map((j) => [j.id, j.state]));
    expect(listed).toMatchObject({ [dead.id]: "failed", [alive.id]: "running" });
  });
});
