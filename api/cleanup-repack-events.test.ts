// A cleanup that repacks, started through the API on the services `serve` builds: its cleanup.completed event, the mail the
// notifier writes for it, and the run history (API) all carry the repack numbers, equal to the job's own outcome.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { deleteBackup, type CleanupOutcome } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import { EventDetailSchemas, type BusEvent } from "../core/events/schema.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { buildLocalServices } from "../runtime/local-services.ts";
import { makeCrm, makeTestEngine } from "../test/helpers/crm.ts";
import { makeTestApi, TEST_SECRET } from "../test/helpers/test-api.ts";

const later = (engine: Engine): Engine => ({ ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) });

describe("cleanup.completed carries the repack numbers", () => {
  it("in the event, the notification mail and the run history of a repacking cleanup run through the API", { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2", BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "admin@example.com" });
    await runBackup(engine, { type: "manual" });
    for (let i = 1; i <= 6; i++) writeFileSync(path.join(crm.root, `uploads/big${i}.bin`), randomBytes(200_000));
    const second = await runBackup(engine, { type: "manual" });
    for (let i = 1; i <= 4; i++) rmSync(path.join(crm.root, `uploads/big${i}.bin`));
    await runBackup(engine, { type: "manual" });
    if (second.skipped) throw new Error("expected a backup");
    await deleteBackup(later(engine), second.manifest.id, "test"); // its pack stays: the third backup uses two of its uploads

    const late = later(engine);
    const services = await buildLocalServices({ engine: late, config: late.config, demoCrm: null });
    const events: BusEvent[] = [];
    services.bus.subscribe({ source: ["colab-backup"], "detail-type": ["cleanup.completed"] }, (e) => void events.push(e));
    const api = await makeTestApi({ ...services.api, auth: { jwtSecret: TEST_SECRET } });

    const started = await api.call("/api/backup/cleanup", { method: "POST" });
    expect(started.status).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    await services.runner.idle();
    await services.bus.drain();
    const job = (await (await api.call(`/api/backup/jobs/${jobId}`)).json()) as { state: string; result: CleanupOutcome };
    expect(job.state).toBe("succeeded");
    const o = job.result;
    expect(o.repack.packsRepacked.length).toBeGreaterThan(0);
    expect(o.repack.rewrittenBytes).toBeGreaterThan(0);
    expect(o.repack.freeableBytes).toBeGreaterThan(o.repack.rewrittenBytes); // two of six uploads still used

    // The event: published through the bus (which checks it against the schema), the job's numbers.
    expect(events).toHaveLength(1);
    const detail = events[0]!.detail as { repack?: unknown; packs?: unknown };
    const repack = { packsRepacked: o.repack.packsRepacked.length, bytesCopied: o.repack.rewrittenBytes, freeableBytes: o.repack.freeableBytes, manifestsRewritten: o.repack.manifestsRewritten };
    expect(detail.repack).toEqual(repack);
    expect(detail.packs).toEqual({ removed: o.packs.packsRemoved.length, freedBytes: o.packs.freedBytes });
    // The schema refuses numbers that cannot be counts.
    const bad = { ...events[0]!.detail, repack: { ...repack, bytesCopied: -1 } };
    expect(EventDetailSchemas["cleanup.completed"].safeParse(bad).success).toBe(false);
    expect(EventDetailSchemas["cleanup.completed"].safeParse({ ...events[0]!.detail, repack: { ...repack, packsRepacked: 1.5 } }).success).toBe(false);

    // The mail the notifier wrote to the outbox names them.
    const outbox = path.join(late.config.backupDir, "outbox");
    const mails = readdirSync(outbox).map((f) => readFileSync(path.join(outbox, f), "utf8"));
    const mail = mails.find((m) => m.includes("Packs repacked"));
    expect(mail, `outbox: ${mails.length} mail(s)`).toBeDefined();
    expect(mail).toContain(`${repack.packsRepacked} (${repack.manifestsRewritten} backup(s) pointed at the copies)`);
    expect(mail).toMatch(/Copied by repacking/);
    expect(mail).toMatch(/Freed by the next cleanup/);

    // The run history (what the dashboard draws), from the audit trail.
    const runs = (await (await api.call("/api/backup/runs?limit=5")).json()) as { items: { action: string; repack?: unknown }[] };
    const cleanupRun = runs.items.find((r) => r.action === "cleanup");
    expect(cleanupRun?.repack).toEqual({ packsRepacked: repack.packsRepacked, bytesCopied: repack.bytesCopied, freeableBytes: repack.freeableBytes });
  });
});
