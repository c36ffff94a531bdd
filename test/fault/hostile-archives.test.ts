// Fault: hostile backups planted in the store with a consistent manifest and SHA-256, then restored: each is refused as
// unsafe or damaged, and the CRM is unchanged (nothing written inside or beside it). Runtime: ~5 s.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { backupEntries, manifestFor, rawHeader, sha256, tarEntries, type TestEntry, type TestFile } from "../helpers/test-archives.ts";
import { BackupError } from "../../core/errors.ts";
import { runRestore } from "../../core/restore.ts";
import type { Manifest } from "../../core/manifest.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { crmState, restoreLeftovers } from "./helpers.ts";
import { recordFault } from "./record.ts";

const FILES: TestFile[] = [
  { path: "uploads/a.txt", data: "planted upload\n", mode: 0o644 },
  { path: "config/package.json", data: '{"name":"planted"}\n', mode: 0o644 },
];

let seq = 0;
const nextId = () => `manual-20250101T0000${String(seq++).padStart(2, "0")}Z-abcdef`;

/** Writes `<type>/<id>.tar.gz` and its stored manifest into the store, consistent as a real backup's would be. */
function plant(store: string, gz: Buffer, manifest: Manifest): string {
  const id = manifest.id;
  mkdirSync(path.join(store, "manual"), { recursive: true });
  const key = `manual/${id}.tar.gz`;
  const stored = { ...manifest, completedAt: manifest.createdAt, archive: { key, sizeBytes: gz.length, sha256: sha256(gz), verifiedAt: manifest.createdAt } };
  writeFileSync(path.join(store, key), gz);
  writeFileSync(path.join(store, `manual/${id}.json`), JSON.stringify(stored, null, 2));
  return id;
}

/** A backup whose embedded manifest names the planted id, so only the hostile part can be what restore refuses. */
async function hostile(extra: TestEntry[], files = FILES, patch?: (m: Manifest) => void): Promise<{ entries: TestEntry[]; manifest: Manifest }> {
  const manifest = manifestFor(files, (m) => {
    Object.assign(m, { id: nextId(), type: "manual" });
    patch?.(m);
  });
  return { entries: [...backupEntries(files, manifest), ...extra], manifest };
}

const x = (name: string, extra: Partial<TestEntry> = {}): TestEntry => ({ name, data: "x", ...extra });
const ZEROS = Buffer.alloc(80 * 1024 * 1024);

type Case = { name: string; message: string; build: (crmParent: string) => Promise<{ entries?: TestEntry[]; manifest: Manifest; gz?: (tar: Buffer) => Buffer }> };
const CASES: Case[] = [
  { name: "symlink", message: "symbolic link entries", build: () => hostile([x("uploads/link", { type: "symlink", linkname: "../../etc/passwd", data: undefined })]) },
  { name: "hard link", message: "hard link entries", build: () => hostile([x("uploads/hard", { type: "link", linkname: "/etc/passwd", data: undefined })]) },
  { name: "character device", message: "character device entries", build: () => hostile([x("uploads/dev", { type: "character-device", data: undefined })]) },
  { name: "FIFO", message: "FIFO entries", build: () => hostile([x("uploads/fifo", { type: "fifo", data: undefined })]) },
  { name: "absolute name", message: "absolute name", build: (p) => hostile([x(`${p}/evil`)]) },
  { name: "'..' segment", message: "'..' segment", build: () => hostile([x("uploads/../../evil")]) },
  { name: "setuid file", message: "setuid/setgid bit", build: () => hostile([], [...FILES, { path: "uploads/run.sh", data: "#!/bin/sh\n", mode: 0o4755 }]) },
  { name: "duplicate entry", message: "duplicate entry name", build: () => hostile([x("uploads/a.txt", { data: FILES[0]!.data })]) },
  { name: "oversized entry (pax size 70 GiB)", message: "limit 68719476736", build: () => hostile([x("uploads/huge", { pax: { size: String(70 * 2 ** 30) } })]) },
  {
    name: "decompression bomb (80 MiB of zeros)", message: "possible decompression bomb",
    build: () => hostile([], [...FILES, { path: "uploads/bomb.bin", data: ZEROS }]),
  },
  { name: "entry not in manifest", message: "not listed in the manifest", build: () => hostile([x("uploads/extra.txt")]) },
  { name: "unknown entry type", message: "unknown type (typeflag S)", build: () => hostile([{ name: "", raw: rawHeader({ name: "uploads/s", typeflag: "S", size: 10 }) }]) },
  {
    name: "trailing garbage", message: "corrupt gzip data",
    build: async () => ({ ...(await hostile([])), gz: (tar) => Buffer.concat([gzipSync(tar), Buffer.from("garbage after the gzip stream")]) }),
  },
];

describe("fault: hostile archives planted in the store", () => {
  it(`${CASES.length} hostile classes: restore refuses each, the CRM and its folder are unchanged (~5 s)`, { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    const store = tempDir("fault-hostile-store-");
    const engine = makeTestEngine(crm.root, store);
    const parent = path.dirname(crm.root);
    const outcomes: { name: string; refused: boolean; error: string; unchanged: boolean }[] = [];
    for (const c of CASES) {
      const built = await c.build(crm.root);
      const tar = await tarEntries(built.entries!);
      const gz = built.gz ? built.gz(tar) : gzipSync(tar);
      const id = plant(store, gz, built.manifest);
      const before = crmState(crm.root);
      const beside = readdirSync(parent).filter((n) => n.startsWith(path.basename(crm.root)) || n === "evil").sort();
      const err = await runRestore(engine, { backupId: id, components: ["uploads", "config"], confirm: "CONFIRM_RESTORE" }).then(
        () => null,
        (e: unknown) => e as Error,
      );
      const unchanged =
        JSON.stringify(crmState(crm.root)) === JSON.stringify(before) &&
        restoreLeftovers(crm.root).length === 0 &&
        JSON.stringify(readdirSync(parent).filter((n) => n.startsWith(path.basename(crm.root)) || n === "evil").sort()) === JSON.stringify(beside) &&
        !existsSync(path.join(crm.root, "evil"));
      outcomes.push({ name: c.name, refused: err instanceof BackupError && err.message.includes(c.message), error: err?.message ?? "restored", unchanged });
    }
    if (process.env.FAULT_DEBUG) console.error(outcomes.map((o) => `${o.name}: ${o.error}`).join("\n"));
    const bad = outcomes.filter((o) => !o.refused || !o.unchanged);
    recordFault({
      suite: "hostile",
      fault: "planted hostile backup restored (consistent SHA-256)",
      trials: outcomes.length,
      held: outcomes.length - bad.length,
      lost: outcomes.filter((o) => !o.unchanged).length,
      note: `classes: ${CASES.map((c) => c.name.replace(/ \(.*\)/, "")).join(", ")}`,
    });
    expect(bad).toEqual([]);
  });
});

