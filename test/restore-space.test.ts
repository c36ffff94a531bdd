// The restore's space check on a real, small tmpfs: a restore that cannot fit is refused before anything is written.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { ValidationError } from "../core/errors.ts";
import type { StoredManifest } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { restoreSpaceNeeded } from "../core/restore-space.ts";
import { makeCrm, makeTestEngine, tempDir, treeDigest } from "./helpers/crm.ts";

const MiB = 1024 * 1024;
let mount = "";

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("restore-space tests mount a tmpfs and must run as root (CI does); run them with sudo");
  mount = tempDir("crm-disk-");
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=6m", "tmpfs", mount]);
});

afterAll(() => {
  if (!mount) return;
  execFileSync("umount", [mount]);
  rmSync(mount, { recursive: true, force: true });
});

describe("restore space check", () => {
  it("counts every chosen entry, logs unpacked, and the database twice", () => {
    const m: Pick<StoredManifest, "components"> = {
      components: {
        database: { status: "included", fileCount: 1, totalSize: 100, files: [{ path: "database/dev.db", size: 100, sha256: "0".repeat(64), mode: 0o644 }] },
        logs: { status: "included", fileCount: 1, totalSize: 10, files: [{ path: "logs/a.log.gz", size: 10, sha256: "0".repeat(64), mode: 0o644, originalSize: 1000 }] },
        uploads: { status: "included", fileCount: 1, totalSize: 5000, files: [{ path: "uploads/a", size: 5000, sha256: "0".repeat(64), mode: 0o644 }] },
      },
    };
    const base = restoreSpaceNeeded(m, []);
    expect(restoreSpaceNeeded(m, ["database"]) - base).toBe(4096 + 100 + 100);
    expect(restoreSpaceNeeded(m, ["database"], 300) - base).toBe(4096 + 100 + 300); // rollback copy of a bigger live database
    expect(restoreSpaceNeeded(m, ["logs"]) - base).toBe(4096 + 10 + 1000);
    expect(restoreSpaceNeeded(m, ["uploads", "logs"]) - base).toBe(4096 + 5000 + 4096 + 1010);
  });

  it("refuses a restore that needs more than the CRM's disk has, naming the disk and both sizes, and changes nothing", async () => {
    const crm = makeCrm(path.join(mount, "crm"), "delete");
    writeFileSync(path.join(crm.root, "uploads/big.bin"), randomBytes(3 * MiB)); // random: the archive cannot shrink it
    const engine = makeTestEngine(crm.root); // the store is on the main disk
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("unexpected skip");
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "changed after the backup");
    const before = treeDigest(crm.root);

    const err = await runRestore(engine, { backupId: out.manifest.id, components: ["uploads"], confirm: "CONFIRM_RESTORE" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(
      new RegExp(`^restore ${out.manifest.id}: needs \\d+\\.\\d MiB on the disk holding ${crm.root} \\(mounted at ${mount}\\), has \\d+\\.\\d MiB; free space or restore fewer components`),
    );
    expect(treeDigest(crm.root)).toEqual(before);
    expect(readdirSync(crm.root).filter((n) => n.startsWith(".colab-restore-"))).toEqual([]);

    // A restore that fits on the same disk goes ahead: the check measures, it does not just refuse.
    writeFileSync(path.join(crm.root, "package.json"), "{}");
    await runRestore(engine, { backupId: out.manifest.id, components: ["config"], confirm: "CONFIRM_RESTORE" });
    expect(treeDigest(crm.root)["package.json"]).toEqual(before["package.json"]);
  });
});
