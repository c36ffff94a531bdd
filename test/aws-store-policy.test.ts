// The store's IAM key scopes and bucket policy (infra/store-policy.ts) as data, and checked against what the real core writes and deletes in each function's role.
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { deleteBackup, runCleanup } from "../core/cleanup.ts";
import type { Engine } from "../core/engine.ts";
import { writeExport } from "../core/export-object.ts";
import { BACKUP_TYPES } from "../core/manifest.ts";
import { CONFIRM_TOKEN, runRestore } from "../core/restore.ts";
import type { Storage } from "../core/storage/storage.ts";
import { DELETE_KEYS, NEVER_REPLACED, PUT_KEYS, REPLACEABLE, bucketPolicy, type Role } from "../infra/store-policy.ts";
import { PACK_GRACE_MS } from "../core/v2/gc.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";

/** IAM's wildcard: "*" matches any run of characters, "/" included. */
const matchesAny = (patterns: readonly string[], key: string) => patterns.some((p) => new RegExp(`^${p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(key));

interface Recorded {
  puts: { key: string; ifAbsent: boolean; ifVersion: boolean }[];
  deletes: string[];
}

/** Swaps the engine's store for one that records every put (with its ifAbsent) and delete, as S3 would see them. */
function record(engine: Engine): Recorded {
  const inner = engine.storage;
  const rec: Recorded = { puts: [], deletes: [] };
  const wrapped: Storage = Object.create(inner);
  wrapped.put = (key, body, opts) => (rec.puts.push({ key, ifAbsent: opts?.ifAbsent === true, ifVersion: opts?.ifVersion !== undefined }), inner.put(key, body, opts));
  wrapped.createExclusive = (key, body) => (rec.puts.push({ key, ifAbsent: true, ifVersion: false }), inner.createExclusive(key, body));
  wrapped.delete = (key, opts) => (rec.deletes.push(key), inner.delete(key, opts));
  engine.storage = wrapped;
  return rec;
}

/** What the role's IAM grants and the bucket policy demand of what it did. */
function expectAllowed(role: Role, rec: Recorded) {
  expect(rec.puts.length).toBeGreaterThan(0);
  for (const p of rec.puts) {
    expect(matchesAny(PUT_KEYS[role], p.key), `${role} may put ${p.key}`).toBe(true);
    // The bucket policy refuses a put on archives and packs without If-None-Match, and on manifests without it or If-Match.
    if (matchesAny(NEVER_REPLACED, p.key)) expect(p.ifAbsent, `${role} puts ${p.key} with If-None-Match`).toBe(true);
    if (matchesAny(REPLACEABLE, p.key)) expect(p.ifAbsent || p.ifVersion, `${role} puts ${p.key} with If-None-Match or If-Match`).toBe(true);
  }
  for (const k of rec.deletes) expect(matchesAny(DELETE_KEYS[role], k), `${role} may delete ${k}`).toBe(true);
}

describe("store policy as data", () => {
  it("refuses, for every principal, a put on any archive or pack that is not a create-if-absent, and on a manifest one that is neither that nor an If-Match replace", () => {
    const [noOverwrite, noBlindOverwrite, ...rest] = bucketPolicy("backups/", { protectVersions: false });
    expect(rest).toEqual([]);
    expect(noOverwrite).toEqual({
      sid: "NoOverwriteOfBackupData",
      effect: "deny",
      principals: "*",
      actions: ["s3:PutObject"],
      paths: [...BACKUP_TYPES.map((t) => `backups/${t}/*.tar.gz`), "backups/data/*"],
      conditions: [
        { test: "Bool", variable: "s3:ObjectCreationOperation", values: ["true"] },
        { test: "Null", variable: "s3:if-none-match", values: ["true"] },
      ],
    });
    expect(noBlindOverwrite).toEqual({
      sid: "NoBlindOverwriteOfManifests",
      effect: "deny",
      principals: "*",
      actions: ["s3:PutObject"],
      paths: BACKUP_TYPES.map((t) => `backups/${t}/*.json`),
      conditions: [
        { test: "Bool", variable: "s3:ObjectCreationOperation", values: ["true"] },
        { test: "Null", variable: "s3:if-none-match", values: ["true"] },
        { test: "Null", variable: "s3:if-match", values: ["true"] },
      ],
    });
    // Production also keeps every version from everyone but the lifecycle rule.
    const prod = bucketPolicy("backups/", { protectVersions: true });
    expect(prod[2]).toMatchObject({ effect: "deny", principals: "*", paths: ["*"], actions: expect.arrayContaining(["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]) });
  });

  it("lets only cleanup and the API delete backup data, and no function but the worker write exports", () => {
    const deletesData = (Object.keys(DELETE_KEYS) as Role[]).filter((r) => matchesAny(DELETE_KEYS[r], "daily/daily-20261129T020000Z-abcdef.json") || matchesAny(DELETE_KEYS[r], "data/packs/ab/ab.pack"));
    expect(deletesData.sort()).toEqual(["api", "cleanup"]);
    expect((Object.keys(PUT_KEYS) as Role[]).filter((r) => matchesAny(PUT_KEYS[r], "exports/manual-20261129T020000Z-abcdef.tar.gz"))).toEqual(["worker"]);
    expect(matchesAny(PUT_KEYS.backup, "manual/manual-20261129T020000Z-abcdef.json")).toBe(false);
    expect(PUT_KEYS.notifier).toEqual(["status/*"]);
    expect(DELETE_KEYS.api.some((k) => k.startsWith("audit/") || k.startsWith("jobs/") || k.startsWith("exports/"))).toBe(false);
  });
});

describe.each(["v1", "v2"] as const)("what the core does in each role stays inside that role's grants (%s)", (format) => {
  const fresh = () => makeTestEngine(makeCrm().root, undefined, { BACKUP_FORMAT: format });

  it("ScheduledBackup: a scheduled backup, delivered twice", async () => {
    const engine = fresh();
    const rec = record(engine);
    const scheduledAt = new Date("2026-11-29T02:00:00Z");
    await runBackup(engine, { type: "daily", scheduledAt });
    expect((await runBackup(engine, { type: "daily", scheduledAt })).skipped).toBe(true);
    expectAllowed("backup", rec);
  });

  it("Worker: a manual backup, a restore (with its pre-restore backup) and an export", async () => {
    const engine = fresh();
    const rec = record(engine);
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("skipped");
    await runRestore(engine, { backupId: out.manifest.id, components: ["uploads"], confirm: CONFIRM_TOKEN, actor: "ada" });
    await writeExport(engine, out.manifest.id);
    expectAllowed("worker", rec);
    if (format === "v2") expect(rec.puts.some((p) => p.key.startsWith("data/packs/") && p.ifAbsent)).toBe(true);
  });

  it("Cleanup and the API: retention over expired dailies, and deleting one backup", async () => {
    const engine = fresh();
    const ids: string[] = [];
    for (let day = 1; day <= 3; day++) {
      engine.now = () => new Date(`2026-10-0${day}T02:00:00Z`);
      const out = await runBackup(engine, { type: "daily", scheduledAt: engine.now() });
      if (!out.skipped) ids.push(out.manifest.id);
    }
    engine.now = () => new Date();
    const api = record(engine);
    await deleteBackup(engine, ids[0]!, "ada");
    expectAllowed("api", api);
    const cleanup = record(engine);
    await runCleanup(engine, { dryRun: false, actor: "scheduler" });
    expect(cleanup.deletes.length).toBeGreaterThan(0);
    expectAllowed("cleanup", cleanup);
  });
});

describe("repacking stays inside the cleanup role's grants (v2)", () => {
  it("Cleanup: a repack (new packs, its record, manifests replaced with If-Match), then deleting the old packs", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2" });
    await runBackup(engine, { type: "manual" });
    for (let i = 1; i <= 4; i++) writeFileSync(path.join(crm.root, `uploads/big${i}.bin`), randomBytes(200_000));
    const second = await runBackup(engine, { type: "manual" });
    for (let i = 1; i <= 3; i++) rmSync(path.join(crm.root, `uploads/big${i}.bin`));
    await runBackup(engine, { type: "manual" });
    if (second.skipped) throw new Error("skipped");
    const later = () => new Date(Date.now() + PACK_GRACE_MS + 60_000);
    await deleteBackup({ ...engine, now: later }, second.manifest.id, "test");
    engine.now = later;
    const rec = record(engine);
    const out = await runCleanup(engine, { actor: "scheduler" });
    expect(out.repack.manifestsRewritten).toBeGreaterThan(0);
    await runCleanup(engine, { actor: "scheduler" });
    expect(rec.puts.some((p) => p.key.startsWith("data/packs/") && p.ifAbsent)).toBe(true);
    expect(rec.puts.some((p) => p.key.endsWith(".json") && p.key.startsWith("manual/") && p.ifVersion)).toBe(true);
    expect(rec.deletes.some((k) => out.repack.packsRepacked.includes(k))).toBe(true);
    expectAllowed("cleanup", rec);
  });
});
