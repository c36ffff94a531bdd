// Fault: damaged v2 stores (bit flips in packs, a truncated or missing pack, edited manifests): `verify` detects each,
// `restore` refuses and changes nothing in the CRM. Bit flips run in-process (6 seeds); the rest through the CLI. ~20 s.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { BackupError } from "../../core/errors.ts";
import type { StoredManifestV2 } from "../../core/manifest.ts";
import { decodeManifest, encodeManifest } from "../../core/manifest-codec.ts";
import { runRestore } from "../../core/restore.ts";
import { verifyBackup } from "../../core/verify.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { sha256 } from "../helpers/test-archives.ts";
import { addBulk, cliDamageTrials, crmState, restoreLeftovers, rng } from "./helpers.ts";
import { recordFault } from "./record.ts";

const crm = makeCrm();
addBulk(crm.root, 6 * 1024 * 1024, 7); // a few MiB of uploads, so the backup spans more than one pack
const cwd = tempDir("fault-corrupt-v2-");
const store = path.join(cwd, "backups");
const engine = makeTestEngine(crm.root, store, { BACKUP_FORMAT: "v2" });
const env = { CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" };
let m: StoredManifestV2;
let manifestFile = "";
let pristine: { packs: Map<string, Buffer>; manifest: Buffer };
const ALL = ["database", "uploads", "config", "logs"];

beforeAll(async () => {
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 manual backup");
  m = out.manifest;
  manifestFile = path.join(store, "manual", `${m.id}.json`);
  const packs = new Map<string, Buffer>();
  for (const c of Object.values(m.components)) for (const f of c?.files ?? []) for (const b of f.blobs) packs.set(b.pack, Buffer.alloc(0));
  for (const key of packs.keys()) packs.set(key, readFileSync(path.join(store, key)));
  pristine = { packs, manifest: readFileSync(manifestFile) }; // gzipped JSON (core/manifest-codec.ts)
});

function reset(): void {
  for (const [key, bytes] of pristine.packs) writeFileSync(path.join(store, key), bytes);
  writeFileSync(manifestFile, pristine.manifest);
  // Every live upload and config file differs from the backup: a restore copies equal live files instead of decoding
  // them, so only when nothing is equal must it read every piece, the damaged one included. A restore that went
  // through would show.
  for (const c of ["uploads", "config"] as const) {
    for (const f of m.components[c]?.files ?? []) {
      const live = path.join(crm.root, c === "uploads" ? f.path : f.path.slice("config/".length));
      writeFileSync(live, `live, newer than the backup: ${f.path}\n`);
    }
  }
}

describe("fault: damaged v2 stores", () => {
  it("bit flips at 6 seeded positions across the packs: verify fails, restore refuses, the CRM is unchanged", async () => {
    expect(pristine.packs.size).toBeGreaterThan(1);
    const keys = [...pristine.packs.keys()].sort();
    const results: { seed: number; where: string; detected: boolean; refused: boolean; unchanged: boolean }[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      reset();
      const next = rng(seed);
      const key = keys[Math.floor(next() * keys.length)]!;
      const bytes = Buffer.from(pristine.packs.get(key)!);
      const at = Math.floor(next() * bytes.length);
      bytes[at] = bytes[at]! ^ (1 << (seed % 8));
      writeFileSync(path.join(store, key), bytes);
      const before = crmState(crm.root);
      const report = await verifyBackup(engine, m.id);
      const refused = await runRestore(engine, { backupId: m.id, components: ALL, confirm: "CONFIRM_RESTORE" }).then(
        () => false,
        (err) => err instanceof BackupError,
      );
      const unchanged = JSON.stringify(crmState(crm.root)) === JSON.stringify(before) && restoreLeftovers(crm.root).length === 0;
      results.push({ seed, where: `${path.basename(key).slice(0, 8)}@${at}`, detected: !report.ok, refused, unchanged });
    }
    reset();
    const bad = results.filter((r) => !r.detected || !r.refused || !r.unchanged);
    recordFault({
      suite: "corruption",
      fault: "one flipped bit in a v2 pack",
      trials: results.length,
      held: results.length - bad.length,
      lost: results.filter((r) => !r.unchanged).length,
      note: `seeds 1-6 at ${results.map((r) => r.where).join(", ")} over ${pristine.packs.size} packs`,
    });
    expect(bad).toEqual([]);
  });

  const firstUpload = (x: Record<string, any>) => x.components.uploads.files.find((f: { blobs: unknown[] }) => f.blobs.length > 0);
  const edit = (patch: (x: Record<string, any>) => void) => () => {
    const x = decodeManifest(pristine.manifest) as Record<string, any>;
    patch(x);
    writeFileSync(manifestFile, encodeManifest(x as StoredManifestV2)); // stored as the writer stores it
  };
  const someUploadPack = () => path.join(store, firstUpload(decodeManifest(pristine.manifest) as Record<string, any>).blobs[0].pack);
  const DAMAGES: { name: string; apply: () => void }[] = [
    { name: "a pack truncated to 60%", apply: () => { const p = someUploadPack(); writeFileSync(p, readFileSync(p).subarray(0, Math.floor(readFileSync(p).length * 0.6))); } },
    { name: "a pack deleted", apply: () => rmSync(someUploadPack()) },
    { name: "manifest's file hash edited", apply: edit((x) => void (firstUpload(x).sha256 = sha256("something else"))) },
    { name: "manifest's blob hash edited", apply: edit((x) => void (firstUpload(x).blobs[0].sha256 = sha256("something else"))) },
    { name: "manifest's blob offset moved", apply: edit((x) => void (firstUpload(x).blobs[0].offset += 1)) },
    { name: "manifest's file size edited", apply: edit((x) => void (firstUpload(x).size += 1)) },
  ];

  it("truncated or missing packs and edited manifests through the CLI: verify exits 1, restore refuses, the CRM is unchanged", async () => {
    const { results, bad } = await cliDamageTrials({ damages: DAMAGES, reset, id: m.id, crmRoot: crm.root, cwd, env });
    recordFault({
      suite: "corruption",
      fault: "truncated/missing v2 pack, edited v2 manifests (CLI)",
      trials: results.length,
      held: results.length - bad.length,
      lost: results.filter((r) => !r.unchanged).length,
      note: bad.length ? `not caught: ${bad.map((r) => `${r.name} (verify ${r.verify}, restore ${r.restore}: ${r.message})`).join("; ")}` : "all detected and refused",
    });
    expect(bad).toEqual([]);
  }, 180_000); // 12 CLI runs: ~20 s idle, several times that on a busy 2-core machine
});
