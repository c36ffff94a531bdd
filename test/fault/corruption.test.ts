// Fault: damaged stored backups (bit flips, truncation, edited manifests): `verify` detects each, `restore` refuses and
// changes nothing in the CRM. Bit flips run in-process (6 seeds); truncation and manifest edits go through the CLI. Runtime: ~20 s.
// This file damages v1 archives (BACKUP_FORMAT=v1, still readable beside v2); corruption-v2.test.ts damages v2 packs.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { BackupError } from "../../core/errors.ts";
import { MANIFEST_ENTRY } from "../../core/manifest.ts";
import { runRestore } from "../../core/restore.ts";
import { verifyBackup } from "../../core/verify.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { sha256 } from "../helpers/test-archives.ts";
import { cliDamageTrials, crmState, restoreLeftovers, rng } from "./helpers.ts";
import { recordFault } from "./record.ts";

const crm = makeCrm();
const cwd = tempDir("fault-corrupt-");
const store = path.join(cwd, "backups");
const engine = makeTestEngine(crm.root, store, { BACKUP_FORMAT: "v1" });
const env = { CRM_ROOT: crm.root, BACKUP_FORMAT: "v1" };
let id = "";
let archive = "";
let manifestFile = "";
let pristine: { archive: Buffer; manifest: string };

beforeAll(async () => {
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 1) throw new Error("expected a v1 manual backup");
  id = out.manifest.id;
  archive = path.join(store, out.manifest.archive.key);
  manifestFile = archive.replace(/\.tar\.gz$/, ".json");
  pristine = { archive: readFileSync(archive), manifest: readFileSync(manifestFile, "utf8") };
});

function reset(): void {
  writeFileSync(archive, pristine.archive);
  writeFileSync(manifestFile, pristine.manifest);
  // The CRM differs from the backup, so a restore that went through would show.
  writeFileSync(path.join(crm.root, "uploads/a.txt"), "live, newer than the backup\n");
}

const ALL = ["database", "uploads", "config", "logs"];

describe("fault: damaged backups", () => {
  it("bit flips at 6 seeded positions: verify fails, restore refuses, the CRM is unchanged (~2 s)", async () => {
    const results: { seed: number; at: number; detected: boolean; refused: boolean; unchanged: boolean }[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      reset();
      const bytes = Buffer.from(pristine.archive);
      const at = Math.floor(rng(seed)() * bytes.length);
      bytes[at] = bytes[at]! ^ (1 << (seed % 8));
      writeFileSync(archive, bytes);
      const before = crmState(crm.root);
      const report = await verifyBackup(engine, id);
      const refused = await runRestore(engine, { backupId: id, components: ALL, confirm: "CONFIRM_RESTORE" }).then(
        () => false,
        (err) => err instanceof BackupError,
      );
      const unchanged = JSON.stringify(crmState(crm.root)) === JSON.stringify(before) && restoreLeftovers(crm.root).length === 0;
      results.push({ seed, at, detected: !report.ok, refused, unchanged });
    }
    reset();
    const bad = results.filter((r) => !r.detected || !r.refused || !r.unchanged);
    recordFault({
      suite: "corruption",
      fault: "one flipped bit in a stored v1 archive",
      trials: results.length,
      held: results.length - bad.length,
      lost: results.filter((r) => !r.unchanged).length,
      note: `seeds 1-6 at offsets ${results.map((r) => r.at).join(",")} of ${pristine.archive.length} B`,
    });
    expect(bad).toEqual([]);
  });

  type Damage = { name: string; apply: () => void };
  const edit = (patch: (m: Record<string, any>) => void) => () => {
    const m = JSON.parse(pristine.manifest);
    patch(m);
    writeFileSync(manifestFile, JSON.stringify(m, null, 2));
  };
  const DAMAGES: Damage[] = [
    { name: "archive truncated to 60%", apply: () => writeFileSync(archive, pristine.archive.subarray(0, Math.floor(pristine.archive.length * 0.6))) },
    { name: "manifest's archive sha256 edited", apply: edit((m) => void (m.archive.sha256 = sha256("something else"))) },
    { name: "manifest's archive size edited", apply: edit((m) => void (m.archive.sizeBytes += 1)) },
    { name: "manifest's file hash edited", apply: edit((m) => void (m.components.uploads.files[0].sha256 = sha256("something else"))) },
    {
      // The archive's own manifest.json says another hash; the stored manifest is updated to the new archive, as an attacker would.
      name: "archive's embedded file hash edited, archive hash made consistent",
      apply: () => {
        const tar = gunzipSync(pristine.archive);
        const text = tar.toString("latin1");
        const file = JSON.parse(pristine.manifest).components.config.files[0];
        const at = text.indexOf(file.sha256, text.indexOf(MANIFEST_ENTRY));
        // Same length, inside the entry's data: the tar header (and its checksum) stays valid.
        tar.write(sha256("planted").slice(0, 64), at, "latin1");
        const gz = gzipSync(tar);
        writeFileSync(archive, gz);
        edit((m) => Object.assign(m.archive, { sha256: sha256(gz), sizeBytes: gz.length }))();
      },
    },
  ];

  it("truncation and edited manifests through the CLI: verify exits 1, restore refuses, the CRM is unchanged (~20 s)", async () => {
    const { results, bad } = await cliDamageTrials({ damages: DAMAGES, reset, id: id, crmRoot: crm.root, cwd, env });
    recordFault({
      suite: "corruption",
      fault: "truncated v1 archive, edited manifests (CLI)",
      trials: results.length,
      held: results.length - bad.length,
      lost: results.filter((r) => !r.unchanged).length,
      note: bad.length ? `not caught: ${bad.map((r) => `${r.name} (verify ${r.verify}, restore ${r.restore})`).join("; ")}` : "all detected and refused",
    });
    expect(bad).toEqual([]);
  }, 180_000); // 12 CLI runs: ~20 s idle, several times that on a busy 2-core machine
});
