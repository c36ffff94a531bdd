// Fault: folders, not only files, after a restore of uploads is SIGKILLed and the next command ends it.
// Rolled forward (killed right after "committing"): the tree must be the one an uninterrupted restore leaves, and the one
// `rsync -a --delete` from the backup would: the backup's files and their folders, nothing the removals emptied.
// Rolled back (killed mid-swap): the tree must be the one before, folders too: none of the folders the restore created
// to place the backup's files may stay behind, empty; the folders that were there before stay, even empty ones.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { makeCrm, makeTestEngine, tempDir, treeDigest } from "../helpers/crm.ts";
import { restoreLeftovers, spawnCli } from "./helpers.ts";

const PRELOAD = path.join(import.meta.dirname, "journal-kill-preload.mjs");

/** Every folder under `root`, relative, sorted (treeDigest lists files only). */
function folders(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      walk(path.join(d, e.name), r);
    }
  };
  walk(root, "");
  return out.sort();
}

/** Live uploads the backup lacks: whole new folders, a new file beside a backed-up one, a folder that is empty already. */
function addExtras(uploads: string): void {
  for (const [rel, body] of [["extra/deeper/x.txt", "x"], ["extra/y.txt", "y"], ["deep/nested/z.txt", "z"], ["deep/only-new/w.txt", "w"]]) {
    mkdirSync(path.dirname(path.join(uploads, rel!)), { recursive: true });
    writeFileSync(path.join(uploads, rel!), body!);
  }
  mkdirSync(path.join(uploads, "empty-before"), { recursive: true });
}

describe("fault: kill -9 in a restore of uploads, folders included", () => {
  it("rolled forward after commit: the tree an uninterrupted restore (and rsync --delete) leaves, no folder emptied by the removals", { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    const uploads = path.join(crm.root, "uploads");
    const cwd = tempDir("fault-prune-");
    const engine = makeTestEngine(crm.root, path.join(cwd, "backups"));
    const backup = await runBackup(engine, { type: "manual" });
    if (backup.skipped || backup.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    // What rsync -a --delete from the backup leaves: the folders holding its files, nothing else.
    const wanted = new Set<string>();
    for (const f of backup.manifest.components.uploads!.files) {
      for (let d = path.dirname(f.path.slice("uploads/".length)); d !== "."; d = path.dirname(d)) wanted.add(d);
    }
    const files = treeDigest(uploads);
    const args = ["restore", backup.manifest.id, "--components", "uploads", "--confirm", "CONFIRM_RESTORE", "--json"];

    addExtras(uploads);
    const whole = await spawnCli(args, { cwd, env: { CRM_ROOT: crm.root } }).done;
    expect(whole.code, whole.stderr).toBe(0);
    expect(treeDigest(uploads)).toEqual(files);
    expect(folders(uploads)).toEqual([...wanted].sort());

    addExtras(uploads);
    const killed = await spawnCli(args, { cwd, env: { CRM_ROOT: crm.root, NODE_OPTIONS: `--import ${PRELOAD}`, COLAB_TEST_KILL_AT_JOURNAL_PHASE: "committing" } }).done;
    expect(killed.signal).toBe("SIGKILL");
    // Every swap done: what the backup lacks waits aside (whole folders moved as one) for the roll-forward to drop.
    expect(restoreLeftovers(crm.root)).toContain("uploads/extra.colab-old-" + journalId(killed.stderr, restoreLeftovers(crm.root)));
    const status = await spawnCli(["status", "--json"], { cwd, env: { CRM_ROOT: crm.root } }).done;
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toMatch(/finished the interrupted restore/);
    expect(treeDigest(uploads)).toEqual(files);
    expect(folders(uploads)).toEqual([...wanted].sort());
    expect(restoreLeftovers(crm.root)).toEqual([]);
  });

  it("rolled back mid-swap: the folders are as before, none the restore created to place files is left empty", { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    const uploads = path.join(crm.root, "uploads");
    const cwd = tempDir("fault-unmade-");
    const engine = makeTestEngine(crm.root, path.join(cwd, "backups"));
    const backup = await runBackup(engine, { type: "manual" });
    if (backup.skipped) throw new Error("manual backup skipped");
    // Since the backup: a whole folder of it deleted (the restore must create deep/ and deep/nested/ to put b.txt
    // back), a new file, and an empty folder of the user's own that was there before and must stay.
    rmSync(path.join(uploads, "deep"), { recursive: true });
    writeFileSync(path.join(uploads, "new.txt"), "new");
    mkdirSync(path.join(uploads, "media", "kept-empty"));
    const before = { files: treeDigest(uploads), folders: folders(uploads) };
    // Killed right after b.txt is renamed into the folders the restore made for it (removals are planned, and run,
    // before placements, so new.txt is already set aside): the rollback must remove those folders again.
    const env = { CRM_ROOT: crm.root, NODE_OPTIONS: `--import ${PRELOAD}`, COLAB_TEST_KILL_AT_RENAME: path.join("uploads", "deep", "nested", "b.txt") };
    const killed = await spawnCli(["restore", backup.manifest.id, "--components", "uploads,database", "--confirm", "CONFIRM_RESTORE", "--json"], { cwd, env }).done;
    expect(killed.signal).toBe("SIGKILL");
    expect(existsSync(path.join(uploads, "deep", "nested", "b.txt"))).toBe(true); // the kill landed after the uploads swap
    const status = await spawnCli(["status", "--json"], { cwd, env: { CRM_ROOT: crm.root } }).done;
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toMatch(/rolled back the interrupted restore/);
    expect(treeDigest(uploads)).toEqual(before.files);
    expect(folders(uploads)).toEqual(before.folders);
    expect(restoreLeftovers(crm.root)).toEqual([]);
  });
});

/** The restore's journal id, from the names of the copies it set aside. */
function journalId(_stderr: string, leftovers: string[]): string {
  return /\.colab-old-([0-9a-f]+)$/.exec(leftovers.find((l) => /\.colab-old-/.test(l)) ?? "")?.[1] ?? "?";
}
