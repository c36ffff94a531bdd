// The v2 format through the real CLI: backup reports requests and reuse, list/status show it, verify --quick, export to a file and stdout.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeCrm, tempDir } from "./helpers/crm.ts";

const BIN = path.join(import.meta.dirname, "..", "bin", "colab-backup.js");

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, encoding: "buffer", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

describe("colab-backup with BACKUP_FORMAT=v2", () => {
  it("backs up, lists, verifies (quick and full) and exports byte-identical archives to a file and to stdout", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-v2-");
    const env = { CRM_ROOT: crm.root, BACKUP_DIR: path.join(cwd, "store"), BACKUP_FORMAT: "v2" };
    mkdirSync(env.BACKUP_DIR);
    const first = await cli(["backup"], cwd, env);
    expect(first.code).toBe(0);
    expect(first.stdout.toString()).toMatch(/stored .* new in \d+ packs[\s\S]*requests\s+\d+/);
    const again = JSON.parse((await cli(["backup", "--type", "daily", "--json"], cwd, env)).stdout.toString());
    expect(again.manifest.stored).toMatchObject({ bytesAdded: 0, packsAdded: 0 });
    const rehash = JSON.parse((await cli(["backup", "--rehash", "--json"], cwd, env)).stdout.toString());
    expect(rehash.manifest.stored.filesReused).toBe(0);

    const list = JSON.parse((await cli(["list", "--json"], cwd, env)).stdout.toString());
    expect(list.backups).toHaveLength(3);
    expect(list.backups.every((b: { format: number }) => b.format === 2)).toBe(true);
    const status = JSON.parse((await cli(["status", "--json"], cwd, env)).stdout.toString());
    expect(status.backups.total).toBe(3);
    expect(status.lastBackup.id).toBe(rehash.id);

    const quick = await cli(["verify", again.id, "--quick"], cwd, env);
    expect(quick.code).toBe(0);
    expect(quick.stdout.toString()).toContain("quick");
    expect((await cli(["verify", "latest"], cwd, env)).code).toBe(0);

    const file = path.join(cwd, "out.tar.gz");
    const exported = JSON.parse((await cli(["export", again.id, "--output", file, "--json"], cwd, env)).stdout.toString());
    expect(exported).toMatchObject({ ok: true, file, sizeBytes: readFileSync(file).length });
    const piped = await cli(["export", again.id, "--output", "-"], cwd, env);
    expect(piped.code).toBe(0);
    expect(piped.stdout.equals(readFileSync(file))).toBe(true);
    const bad = await cli(["export", "nope"], cwd, env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not a backup id");
  });

  it("cleanup names the unreferenced packs it keeps for now, and says why a damaged manifest stops it", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-v2-");
    const env = { CRM_ROOT: crm.root, BACKUP_DIR: path.join(cwd, "store"), BACKUP_FORMAT: "v2" };
    mkdirSync(env.BACKUP_DIR);
    expect((await cli(["backup"], cwd, env)).code).toBe(0);
    writeFileSync(path.join(crm.root, "uploads/new.bin"), randomBytes(300_000));
    const second = JSON.parse((await cli(["backup", "--json"], cwd, env)).stdout.toString());
    expect((await cli(["delete", second.id], cwd, env)).code).toBe(0);
    const young = await cli(["cleanup", "--dry-run"], cwd, env);
    expect(young.code).toBe(0);
    expect(young.stdout.toString()).toMatch(/kept 1 unreferenced pack\(s\) written in the last hour/);
    writeFileSync(path.join(env.BACKUP_DIR, "manual/manual-20261101T000000Z-abcdef.json"), "{not json");
    const blocked = await cli(["cleanup"], cwd, env);
    expect(blocked.code).toBe(0);
    expect(blocked.stdout.toString()).toMatch(/deleted no packs: 1 damaged manifest\(s\) \(manual\/manual-20261101T000000Z-abcdef.json\)/);
  });

  it("rejects an unknown BACKUP_FORMAT with exit 2 naming the variable", async () => {
    const cwd = tempDir("cli-v2-");
    const out = await cli(["list"], cwd, { CRM_ROOT: makeCrm().root, BACKUP_DIR: path.join(cwd, "store"), BACKUP_FORMAT: "v3" });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('BACKUP_FORMAT must be "v2"');
  });
});
