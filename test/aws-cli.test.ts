// The CLI against LocalStack S3 (BACKUP_STORAGE=s3): back up, list, verify and restore, the same commands as on disk.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { adminS3 } from "./localstack/resources.ts";
import { awsEnv } from "./localstack/config.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { decodeManifest, isGzipped } from "../core/manifest-codec.ts";

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
    const keys = (await adminS3(ls).send(new ListObjectsV2Command({ Bucket: ls.bucket, Prefix: prefix }))).Contents!.map((o) => o.Key!);
    // A v2 backup (the default): its manifest, the store's RESTORE.txt and the packs every blob it references sits in.
    expect(manifest.formatVersion).toBe(2);
    // --json prints a summary; the stored manifest (gzipped JSON) lists the pieces.
    const stored = await (await adminS3(ls).send(new GetObjectCommand({ Bucket: ls.bucket, Key: `${prefix}daily/${id}.json` }))).Body!.transformToByteArray();
    expect(isGzipped(stored)).toBe(true);
    const full = decodeManifest(Buffer.from(stored)) as Record<string, any>;
    expect(full).toMatchObject({ id, stored: manifest.stored });
    const packs = new Set<string>();
    for (const c of Object.values(full.components) as { files: { blobs: { pack: string }[] }[] }[]) for (const f of c.files) for (const b of f.blobs) packs.add(`${prefix}${b.pack}`);
    expect(packs.size).toBeGreaterThan(0);
    // ... and the catalog index that listings read instead of every manifest (core/catalog-index.ts).
    expect(keys.filter((k) => !k.startsWith(`${prefix}audit/`)).sort()).toEqual([`${prefix}daily/${id}.json`, `${prefix}RESTORE.txt`, `${prefix}catalog/index.json`, ...packs].sort());

    const list = JSON.parse((await cli(["list", "--json"], env, cwd)).stdout);
    expect(list.backups.map((b: { id: string }) => b.id)).toEqual([id]);
    const verify = await cli(["verify", id, "--json"], env, cwd);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).report).toMatchObject({ ok: true });

    writeFileSync(path.join(crm.root, "uploads/a.txt"), "lost");
    const restore = await cli(["restore", id, "--components", "uploads", "--confirm", "CONFIRM_RESTORE", "--json"], env, cwd);
    expect(restore.code, restore.stderr).toBe(0);
    expect(readFileSync(path.join(crm.root, "uploads/a.txt"), "utf8")).toBe("alpha\n");
    const status = JSON.parse((await cli(["status", "--json"], env, cwd)).stdout);
    expect(status.storage.location).toBe(`s3://${ls.bucket}/${prefix}`);
    expect(status.backups.byType).toMatchObject({ daily: 1, "pre-restore": 1 });
  });
});
