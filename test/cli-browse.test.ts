// `ls` and `diff` through the real CLI (each run is a process; under load one takes seconds, hence the long timeouts) on a real CRM, for v1 and v2 backups and across the two formats.
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { cli } from "./helpers/run-cli.ts";

const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

async function backup(cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const run = await cli(["backup", "--json"], { cwd, env });
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout).id;
}

/** Changes one upload, adds one, removes one, and adds a customer row. */
function changeCrm(root: string) {
  writeFileSync(path.join(root, "uploads/a.txt"), "alpha, edited\n");
  writeFileSync(path.join(root, "uploads/new.bin"), Buffer.alloc(3000, 7));
  rmSync(path.join(root, "uploads/empty.txt"));
  const db = new Database(path.join(root, "prisma/dev.db"));
  db.prepare(`INSERT INTO "Customer" (name) VALUES ('added')`).run();
  db.close();
}

describe.each(["v1", "v2"])("colab-backup ls and diff with BACKUP_FORMAT=%s", (format) => {
  it("lists every file with its component, size, hash and time, or those under a path; diff names what was added, removed and changed", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-browse-");
    const env = { CRM_ROOT: crm.root, BACKUP_FORMAT: format };
    const before = await backup(cwd, env);
    changeCrm(crm.root);
    const after = await backup(cwd, env);

    const all = JSON.parse((await cli(["ls", before, "--json"], { cwd, env })).stdout);
    expect(all).toMatchObject({ ok: true, id: before, format: format === "v1" ? 1 : 2 });
    const byPath = Object.fromEntries(all.files.map((f: { path: string }) => [f.path, f]));
    expect(Object.keys(byPath).sort()).toEqual([
      "config/.env.example", "config/package-lock.json", "config/package.json", "config/prisma/schema.prisma", "database/dev.db",
      "logs/archive/error-2026-10-01.log.gz", "logs/combined-2026-11-25.log.gz",
      "uploads/a.txt", "uploads/deep/nested/b.txt", "uploads/empty.txt", "uploads/media/photo.bin", "uploads/with space & ünïcode.txt",
    ]);
    expect(byPath["uploads/a.txt"]).toMatchObject({ component: "uploads", size: 6, sha256: sha("alpha\n"), mtime: expect.stringMatching(/^\d{4}-/) });
    expect(byPath["config/package.json"]).toMatchObject({ component: "config", sha256: sha(readFileSync(path.join(crm.root, "package.json"))) });
    expect(byPath["logs/combined-2026-11-25.log.gz"]).toMatchObject({ component: "logs", originalSize: 25_000 });
    expect(all.totalSize).toBe(all.files.reduce((n: number, f: { size: number }) => n + f.size, 0));

    const text = await cli(["ls", before], { cwd, env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ {2}uploads +6 B +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +uploads\/a\.txt$/m);
    expect(text.stdout).toMatch(/^12 files, /m);

    // A folder, a file, and a log named as it is restored (without .gz); `latest` is the newer backup.
    const under = JSON.parse((await cli(["ls", before, "uploads/deep/", "--json"], { cwd, env })).stdout);
    expect(under.files.map((f: { path: string }) => f.path)).toEqual(["uploads/deep/nested/b.txt"]);
    const log = JSON.parse((await cli(["ls", "latest", "logs/archive/error-2026-10-01.log", "--json"], { cwd, env })).stdout);
    expect(log).toMatchObject({ id: after, files: [{ path: "logs/archive/error-2026-10-01.log.gz" }] });

    const typo = await cli(["ls", before, "uploads/dep"], { cwd, env });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(`holds no file or folder "uploads/dep" (did you mean "uploads/deep"?); run \`colab-backup ls ${before}\``);
    const notId = await cli(["ls", "yesterday"], { cwd, env });
    expect(notId.code).toBe(2);
    expect(notId.stderr).toContain('"yesterday" is not a backup id');

    const diff = JSON.parse((await cli(["diff", before, after, "--json"], { cwd, env })).stdout);
    const uploads = diff.components.find((c: { component: string }) => c.component === "uploads");
    expect(uploads.added).toEqual([{ path: "uploads/new.bin", size: 3000, sha256: sha(Buffer.alloc(3000, 7)) }]);
    expect(uploads.removed).toEqual([{ path: "uploads/empty.txt", size: 0, sha256: sha("") }]);
    expect(uploads.changed).toEqual([{ path: "uploads/a.txt", sizeBefore: 6, sizeAfter: 14, sha256Before: sha("alpha\n"), sha256After: sha("alpha, edited\n") }]);
    expect(uploads.unchanged).toBe(3);
    for (const c of ["config", "logs"]) expect(diff.components.find((d: { component: string }) => d.component === c)).toMatchObject({ added: [], removed: [], changed: [] });
    expect(diff.database).toMatchObject({ changed: true, tables: [{ name: "Customer", before: 500, after: 501 }] });
    expect(diff.totals).toEqual({ added: 1, removed: 1, changed: 2, unchanged: 9 });

    const shown = await cli(["diff", before, "latest"], { cwd, env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("uploads: 1 added, 1 removed, 1 changed, 3 unchanged");
    expect(shown.stdout).toContain("  + uploads/new.bin  2.9 KiB");
    expect(shown.stdout).toContain("  - uploads/empty.txt  0 B");
    expect(shown.stdout).toContain("  M uploads/a.txt  6 B -> 14 B (+8 B)");
    expect(shown.stdout).toMatch(/database: changed[^\n]*\n {2}table Customer: 500 -> 501 rows/);
    expect(shown.stdout).toContain("config: unchanged (4 files)");

    const same = JSON.parse((await cli(["diff", after, after, "--json"], { cwd, env })).stdout);
    expect(same.totals).toMatchObject({ added: 0, removed: 0, changed: 0 });
    expect(same.database.changed).toBe(false);
    const one = await cli(["diff", before], { cwd, env });
    expect(one.code).toBe(2);
    expect(one.stderr).toContain("diff needs two backup ids");
  }, 300_000);
});

describe("colab-backup diff across formats", () => {
  it("finds the files of a v1 and a v2 backup of the same data identical, and explains why the database bytes differ", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-browse-");
    const v1 = await backup(cwd, { CRM_ROOT: crm.root, BACKUP_FORMAT: "v1" });
    const v2 = await backup(cwd, { CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" });
    const diff = JSON.parse((await cli(["diff", v1, v2, "--json"], { cwd, env: { CRM_ROOT: crm.root } })).stdout);
    for (const c of ["uploads", "config"]) expect(diff.components.find((d: { component: string }) => d.component === c)).toMatchObject({ added: [], removed: [], changed: [] });
    // Logs are stored gzipped, v1 and v2 each at their own level: the same logs, other .gz bytes.
    expect(diff.components.find((d: { component: string }) => d.component === "logs")).toMatchObject({ added: [], removed: [] });
    expect(diff.database.tables).toEqual([]);
    if (diff.database.changed) expect(diff.database.note).toContain("vacuum-into and backup-api");
    // A component the newer backup left out is reported as such, not as every file deleted without a word.
    const partial = await cli(["backup", "--components", "config", "--json"], { cwd, env: { CRM_ROOT: crm.root } });
    const shown = await cli(["diff", v2, JSON.parse(partial.stdout).id], { cwd, env: { CRM_ROOT: crm.root } });
    expect(shown.stdout).toMatch(new RegExp(`uploads: 0 added, 5 removed, 0 changed, 0 unchanged \\(only in ${v2}\\)`));
  }, 300_000);
});
