// `restore --include` keeps the full restore's rollback: chosen files already swapped in are put back when a later step fails.
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readAudit } from "../core/catalog.ts";
import { RestoreError } from "../core/errors.ts";
import { runRestore } from "../core/restore.ts";
import { makeCrm, makeTestEngine, treeDigest } from "./helpers/crm.ts";
import { holdDatabase, killHolders } from "./helpers/db-holder.ts";

afterEach(killHolders);

describe.each(["v1", "v2"])("restore --include with BACKUP_FORMAT=%s", (format) => {
  it("rolls back the chosen uploads, new folders' files included, when the database step fails", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_DB_BUSY_TIMEOUT_MS: "300", BACKUP_FORMAT: format });
    const out = await runBackup(engine, { type: "daily" });
    if (out.skipped) throw new Error("unexpected skip");
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "live version");
    rmSync(path.join(crm.root, "uploads/deep"), { recursive: true });
    const liveUploads = treeDigest(path.join(crm.root, "uploads"));
    // A writer holding an exclusive transaction longer than the busy timeout makes the database step fail for real.
    const { ask } = holdDatabase(crm.db);
    await ask({ op: "lock" });
    const include = ["uploads/a.txt", "uploads/deep", "database/dev.db"];
    const err = await runRestore(engine, { backupId: out.manifest.id, components: ["database", "uploads", "config", "logs"], include, confirm: "CONFIRM_RESTORE" }).catch((e) => e);
    await ask({ op: "unlock" });
    expect(err).toBeInstanceOf(RestoreError);
    expect(err.rolledBack).toBe(true);
    expect(err.message).toMatch(/rolled back uploads/);
    expect(treeDigest(path.join(crm.root, "uploads"))).toEqual(liveUploads);
    const [audit] = await readAudit(engine.storage);
    expect(audit).toMatchObject({ action: "restore", result: "rolled-back", components: ["database", "uploads"], detail: { include } });

    // Without the lock the same restore goes through, and touches only the chosen uploads.
    writeFileSync(path.join(crm.root, "uploads/live-only.txt"), "mine");
    const done = await runRestore(engine, { backupId: out.manifest.id, components: ["uploads"], include: ["uploads/deep"], confirm: "CONFIRM_RESTORE" });
    expect(done.components).toEqual(["uploads"]);
    const now = treeDigest(path.join(crm.root, "uploads"));
    expect(Object.keys(now).sort()).toEqual([...Object.keys(liveUploads), "deep/nested/b.txt", "live-only.txt"].sort());
    expect(now["a.txt"]).toEqual(liveUploads["a.txt"]);
    const [ok] = await readAudit(engine.storage);
    expect(ok).toMatchObject({ action: "restore", result: "succeeded", detail: { include: ["uploads/deep"] } });
  });
});
