// `restore --target DIR` and `restore --include PATH` through the real CLI on a real CRM, for v1 and v2 backups.
// Each CLI run is a process that takes seconds on a loaded machine, hence the long timeouts.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archiveKey } from "../core/ids.ts";
import { dbContent, makeCrm, tempDir, treeDigest } from "./helpers/crm.ts";
import { cli } from "./helpers/run-cli.ts";

const CONFIRM = ["--confirm", "CONFIRM_RESTORE"];
const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

async function backup(cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const run = await cli(["backup", "--json"], { cwd, env });
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout).id;
}

/** The biggest file under dir: for v2, the pack that holds the photo. */
function biggestFile(dir: string): string {
  let best = { file: "", size: -1 };
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (statSync(p).size > best.size) best = { file: p, size: statSync(p).size };
    }
  };
  walk(dir);
  return best.file;
}

function flipByteInTheMiddle(file: string) {
  const bytes = readFileSync(file);
  const at = bytes.length >> 1;
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(file, bytes);
}

describe.each(["v1", "v2"])("colab-backup restore elsewhere with BACKUP_FORMAT=%s", (format) => {
  it("--target writes the backup into an empty folder in the CRM's layout, changes nothing live, and refuses a used folder or a damaged backup", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-target-");
    const env = { CRM_ROOT: crm.root, BACKUP_FORMAT: format };
    const live = treeDigest(crm.root);
    const rows = dbContent(crm.db);
    const id = await backup(cwd, env);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "live edit\n");

    // No --confirm: nothing live is replaced.
    const target = path.join(tempDir("cli-target-out-"), "restored", "here");
    const run = await cli(["restore", id, "--target", target, "--json"], { cwd, env });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, backupId: id, target, components: ["database", "uploads", "config", "logs"], files: 12 });
    const restored = treeDigest(target);
    const expected = Object.fromEntries(
      Object.entries(live).filter(([p]) => /^(uploads\/|logs\/.*\.log$|package(-lock)?\.json$|prisma\/schema\.prisma$|\.env\.example$)/.test(p)),
    );
    expect(Object.keys(restored).sort()).toEqual([...Object.keys(expected), "prisma/dev.db"].sort());
    for (const [p, digest] of Object.entries(expected)) expect(restored[p], p).toEqual(digest); // bytes and modes (a.txt 0600, b.txt 0640)
    expect(dbContent(path.join(target, "prisma/dev.db"))).toEqual(rows);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("live edit\n");
    const list = JSON.parse((await cli(["list", "--json"], { cwd, env })).stdout);
    expect(list.backups.map((b: { id: string }) => b.id)).toEqual([id]); // no pre-restore backup

    const used = await cli(["restore", id, "--target", target], { cwd, env });
    expect(used.code).toBe(2);
    expect(used.stderr).toContain(`restore into ${target}: it is not empty (`);
    const aFile = path.join(target, "package.json");
    const notFolder = await cli(["restore", id, "--target", aFile], { cwd, env });
    expect(notFolder.code).toBe(2);
    expect(notFolder.stderr).toContain("it is not a folder");

    // --include with --target: only the chosen files, into an existing empty folder.
    const chosen = tempDir("cli-target-some-");
    const some = await cli(["restore", "latest", "--target", chosen, "--include", "uploads/deep", "--include", "config/package.json", "--include", "logs/archive/error-2026-10-01.log"], { cwd, env });
    expect(some.code, some.stderr).toBe(0);
    expect(Object.keys(treeDigest(chosen)).sort()).toEqual(["logs/archive/error-2026-10-01.log", "package.json", "uploads/deep/nested/b.txt"]);
    expect(readFileSync(path.join(chosen, "logs/archive/error-2026-10-01.log"), "utf8")).toBe("old error\n");

    // Every byte is still checked: a damaged backup fails and leaves no half-restored folder behind.
    const store = path.join(cwd, "backups");
    flipByteInTheMiddle(format === "v1" ? path.join(store, archiveKey(id)) : biggestFile(path.join(store, "data", "packs")));
    const damaged = path.join(tempDir("cli-target-bad-"), "out");
    const bad = await cli(["restore", id, "--target", damaged], { cwd, env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/colab-backup restore: .*(SHA-256|sha256|checksum|damaged|incorrect header check|invalid)/i);
    expect(existsSync(damaged)).toBe(false);
  }, 300_000);

  it("--include restores chosen files and folders over the live CRM with a pre-restore backup, leaving the other live files alone", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-include-");
    const env = { CRM_ROOT: crm.root, BACKUP_FORMAT: format };
    const original = treeDigest(crm.root);
    const id = await backup(cwd, env);
    writeFileSync(path.join(crm.root, "uploads/deep/nested/b.txt"), "live b\n");
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "live a\n");
    writeFileSync(path.join(crm.root, "uploads/live-only.txt"), "mine\n");
    writeFileSync(path.join(crm.root, "package.json"), "live pkg\n");
    rmSync(path.join(crm.root, "uploads/media"), { recursive: true });

    const typo = await cli(["restore", id, "--include", "uploads/deeep", ...CONFIRM], { cwd, env });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(`holds no file or folder "uploads/deeep" (did you mean "uploads/deep"?)`);
    const elsewhere = await cli(["restore", id, "--components", "database", "--include", "uploads/a.txt", ...CONFIRM], { cwd, env });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain("among the components asked for (database); add its component to --components");
    const unconfirmed = await cli(["restore", id, "--include", "uploads/a.txt"], { cwd, env });
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("--confirm CONFIRM_RESTORE");
    expect(readFileSync(path.join(crm.root, "uploads/deep/nested/b.txt"), "utf8")).toBe("live b\n");

    const run = await cli(["restore", id, "--include", "uploads/deep/", "--include", "config/package.json", "--include", "uploads/media/photo.bin", ...CONFIRM, "--json"], { cwd, env });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ ok: true, backupId: id, components: ["uploads", "config"], preRestoreBackupId: expect.stringMatching(/^pre-restore-/) });
    const now = treeDigest(crm.root);
    for (const p of ["uploads/deep/nested/b.txt", "package.json", "uploads/media/photo.bin"]) expect(now[p], p).toEqual(original[p]);
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("live a\n");
    expect(readFileSync(path.join(crm.root, "uploads/live-only.txt"), "utf8")).toBe("mine\n");
    expect(now["package-lock.json"]).toEqual(original["package-lock.json"]);
    expect(Object.keys(now).filter((p) => p.includes("colab-"))).toEqual([]); // no swap leftovers

    // What the restore replaced is in the pre-restore backup.
    const kept = JSON.parse((await cli(["ls", out.preRestoreBackupId, "uploads/deep", "--json"], { cwd, env })).stdout);
    expect(kept.files).toMatchObject([{ path: "uploads/deep/nested/b.txt", sha256: sha("live b\n") }]);
    const text = await cli(["restore", id, "--include", "uploads/a.txt", ...CONFIRM], { cwd, env });
    expect(text.stdout).toContain(`Restored uploads/a.txt (uploads) from ${id}`);
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("alpha\n");
    expect(readFileSync(path.join(crm.root, "uploads/live-only.txt"), "utf8")).toBe("mine\n");
  }, 300_000);
});
