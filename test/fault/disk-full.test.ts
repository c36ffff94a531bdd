// Fault: a full disk, on small tmpfs mounts (the tests run as root, as CI does). The store's disk full: backup fails naming
// the store, nothing is half-listed, and after space is freed the next backup succeeds. The CRM's disk full: restore fails
// or is refused and the CRM is unchanged. Runtime: ~6 s.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { listBackups } from "../../core/catalog.ts";
import { runRestore } from "../../core/restore.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { addBulk, archivesWithoutManifest, cli, crmState, json, listFiles, restoreLeftovers } from "./helpers.ts";
import { recordFault } from "./record.ts";

const mounts: string[] = [];
function tmpfs(sizeKb: number): string {
  const dir = tempDir("fault-tmpfs-");
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKb}k`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}
afterAll(() => {
  for (const m of mounts.splice(0)) execFileSync("umount", ["-l", m]);
});

/** Fills the disk holding `dir` until `leaveBytes` are free; returns the filler's path. */
function fill(dir: string, leaveBytes: number): string {
  const st = statfsSync(dir);
  const free = st.bavail * st.bsize;
  const filler = path.join(dir, "filler.bin");
  writeFileSync(filler, Buffer.alloc(Math.max(0, free - leaveBytes)));
  return filler;
}

describe("fault: disk full", () => {
  it("the store's disk is full: backup fails naming the store, nothing listed; after freeing space the next backup succeeds (~4 s)", async () => {
    const crm = makeCrm();
    addBulk(crm.root, 1_000_000, 3);
    const store = tmpfs(8 * 1024);
    const cwd = tempDir("fault-full-store-");
    const env = { CRM_ROOT: crm.root, BACKUP_DIR: store };
    const filler = fill(store, 300 * 1024);

    const failed = await cli(["backup", "--json"], { cwd, env });
    const error = failed.code === 0 ? "" : (json<{ error?: { message?: string } }>(failed).error?.message ?? failed.stderr);
    const engine = makeTestEngine(crm.root, store);
    const listed = await listBackups(engine.storage);
    const orphans = archivesWithoutManifest(store);
    const temp = listFiles(path.join(store, "temp"));
    rmSync(filler);
    const next = await cli(["backup", "--json"], { cwd, env });
    const namesStore = error.includes(store) && !error.includes(crm.db);
    const held = failed.code === 1 && listed.length === 0 && orphans.length === 0 && next.code === 0;
    recordFault({
      suite: "disk-full",
      fault: "store's disk full during backup (tmpfs)",
      trials: 1,
      held: held && namesStore ? 1 : 0,
      lost: listed.length || orphans.length ? 1 : 0,
      note: `exit ${failed.code}; message ${namesStore ? "names the store" : "does not name the store"}: ${error.slice(0, 120)}`,
    });
    expect(failed.code, failed.stderr).toBe(1);
    expect(listed).toEqual([]);
    expect(orphans).toEqual([]);
    expect(temp).toEqual([]);
    expect(next.code, next.stderr).toBe(0);
    expect(await listBackups(engine.storage)).toHaveLength(1);
    // Target (issue 7 point 6): the message names the disk that is full, the store's, not the database's.
    expect(error).toContain(store);
    expect(error).not.toContain(crm.db);
    expect(error).toMatch(/no space|full/i);
  });

  it("the CRM's disk is full: restore fails or is refused, the CRM is unchanged (~2 s)", async () => {
    const root = tmpfs(12 * 1024);
    const crm = makeCrm(root);
    addBulk(crm.root, 2_000_000, 4);
    const store = tempDir("fault-full-crm-store-");
    const engine = makeTestEngine(crm.root, store);
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("manual backup skipped");
    // Live data now differs from the backup, so a restore that went through would show.
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "live, newer than the backup\n");
    rmSync(path.join(crm.root, "uploads/bulk/blob-0.bin"));
    mkdirSync(path.join(crm.root, "uploads/new"), { recursive: true });
    writeFileSync(path.join(crm.root, "uploads/new/file.txt"), "new\n");
    fill(crm.root, 200 * 1024);
    const before = crmState(crm.root);

    const err = await runRestore(engine, { backupId: out.manifest.id, components: ["database", "uploads", "config", "logs"], confirm: "CONFIRM_RESTORE" }).then(
      () => null,
      (e: Error) => e,
    );
    const unchanged = JSON.stringify(crmState(crm.root)) === JSON.stringify(before);
    const leftovers = restoreLeftovers(crm.root);
    recordFault({
      suite: "disk-full",
      fault: "CRM's disk full during restore (tmpfs)",
      trials: 1,
      held: err && unchanged && leftovers.length === 0 ? 1 : 0,
      lost: unchanged ? 0 : 1,
      note: err ? `refused: ${err.message.slice(0, 140)}` : "restore went through on a full disk",
    });
    expect(err).not.toBeNull();
    expect(unchanged).toBe(true);
    expect(leftovers).toEqual([]);
  });
});
