// POST /api/backup/cleanup on a v2 store: the dry run reports the packs garbage collection would delete, and the real run deletes them.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readAudit } from "../core/catalog.ts";
import { deleteBackup } from "../core/cleanup.ts";
import { LocalJobRunner } from "../core/jobs/local-runner.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { makeCrm, makeTestEngine } from "../test/helpers/crm.ts";
import { makeTestApi } from "../test/helpers/test-api.ts";

interface Outcome { dryRun: boolean; freedBytes: number; packs: { packsRemoved: string[]; freedBytes: number; blockedBy: string | null } }

describe("POST /api/backup/cleanup on a v2 store", () => {
  it("reports the bytes of unreferenced packs on a dry run, then frees exactly those", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2" });
    const first = await runBackup(engine, { type: "manual" });
    writeFileSync(path.join(crm.root, "uploads/new.bin"), randomBytes(300_000));
    const second = await runBackup(engine, { type: "manual" });
    if (first.skipped || second.skipped) throw new Error("unexpected skip");
    await deleteBackup(engine, second.manifest.id, "test"); // its packs are inside the grace period: kept
    const packs = async () => new Map((await engine.storage.list("data/packs/")).map((o) => [o.key, o.size]));
    const before = await packs();

    const late = { ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) };
    const runner = new LocalJobRunner(late);
    const api = await makeTestApi({ engine: late, jobs: runner });
    const dryRes = await api.call("/api/backup/cleanup", { method: "POST", json: { dryRun: true } });
    expect(dryRes.status).toBe(200);
    const dry = (await dryRes.json()) as Outcome;
    expect(dry.packs.blockedBy).toBeNull();
    expect(dry.packs.packsRemoved.length).toBeGreaterThan(0);
    expect(dry.packs.freedBytes).toBe(dry.packs.packsRemoved.reduce((n, k) => n + before.get(k)!, 0));
    expect(dry.freedBytes).toBe(dry.packs.freedBytes);
    expect(await packs()).toEqual(before);

    // The real run is a job: 202 with its id, then the outcome is the job's result.
    const started = await api.call("/api/backup/cleanup", { method: "POST" });
    expect(started.status).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    await runner.idle();
    const job = (await (await api.call(`/api/backup/jobs/${jobId}`)).json()) as { state: string; result: Outcome };
    expect(job.state).toBe("succeeded");
    const real = job.result;
    expect(real.freedBytes).toBe(dry.freedBytes);
    const after = await packs();
    for (const k of dry.packs.packsRemoved) expect(after.has(k)).toBe(false);
    expect(after.size).toBe(before.size - dry.packs.packsRemoved.length);
    const [record] = await readAudit(engine.storage);
    expect(record).toMatchObject({ action: "cleanup", actor: "admin@example.com", detail: { packsRemoved: dry.packs.packsRemoved.length, packBytesFreed: dry.packs.freedBytes } });
  });
});
