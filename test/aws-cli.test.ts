// The CLI against LocalStack S3 (BACKUP_STORAGE=s3): back up, list, verify and restore, the same commands as on disk.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { adminS3 } from "./localstack/resources.ts";
import { awsEnv } from "./localstack/config.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";

const ls = inject("localstack");
const BIN = path.join(import.meta.dirname, "..", "bin", "colab-backup.js");

function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("CLI on S3", () => {
  it("backs up to, lists, verifies and restores from LocalStack S3", async () => {
    const crm = makeCrm();
    const cwd = tempDir("cli-s3-");
    const prefix = `cli-${randomBytes(4).toString("hex")}/`;
    const env = { ...awsEnv(ls), BACKUP_STORAGE: "s3", BACKUP_S3_PREFIX: prefix, CRM_ROOT: crm.root };

    const backup = await cli(["backup", "--type", "daily", "--json"], env, cwd);
    expect(backup.code, backup.stderr).toBe(0);
    const { id, manifest } = JSON.parse(backup.stdout);
    const keys = (await adminS3(ls).send(new ListObjectsV2Command({ Bucket: ls.bucket, Prefix: prefix }))).Contents!.map((o) => o.Key);
    expect(keys).toEqual(expect.arrayContaining([`${prefix}daily/${id}.tar.gz`, `${prefix}daily/${id}.json`]));
    expect(manifest.archive.key).toBe(`daily/${id}.tar.gz`);

    const list = JSON.parse((await cli(["list", "--json"], env, cwd)).stdout);
    expect(list.backups.map((b: { id: string }) => b.id)).toEqual([id]);
    const verify = await cli(["verify", id, "--json"], env, cwd);
    expect(JSON.parse(verify.stdout).report).toMatchObject({ ok: true, archive: { sha256: manifest.archive.sha256 } });

    writeFileSync(path.join(crm.root, "uploads/a.txt"), "lost");
    const restore = await cli(["restore", id, "--components", "uploads", "--confirm", "CONFIRM_RESTORE", "--json"], env, cwd);
    expect(restore.code, restore.stderr).toBe(0);
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("alpha\n");
    const status = JSON.parse((await cli(["status", "--json"], env, cwd)).stdout);
    expect(status.storage.location).toBe(`s3://${ls.bucket}/${prefix}`);
    expect(status.backups.byType).toMatchObject({ daily: 1, "pre-restore": 1 });
  });
});
