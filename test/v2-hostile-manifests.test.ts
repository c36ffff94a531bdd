// Hostile v2 manifests on the restore's newer paths (patched database pieces, compact pack tables): each is refused with
// an error that names the backup and what is wrong, and the live CRM is left exactly as it was, no leftovers.
// Covered elsewhere and not repeated: a flipped bundle byte and checkPatches' unit cases (v2-db-patches.test.ts), a pack
// index outside the pack table (manifest-codec.test.ts), edited hashes, sizes and an offset moved by one
// (fault/corruption-v2.test.ts), names outside the component rules (v2-store.test.ts).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { BackupError } from "../core/errors.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { gzipText, manifestText } from "../core/manifest-codec.ts";
import { runRestore } from "../core/restore.ts";
import { makeCrm, makeTestEngine, tempDir } from "./helpers/crm.ts";
import { crmState, restoreLeftovers } from "./fault/helpers.ts";

const crm = makeCrm();
const store = path.join(tempDir("hostile-manifest-"), "backups");
const engine = makeTestEngine(crm.root, store, { BACKUP_FORMAT: "v2" });
let day: StoredManifestV2;
let manifestFile = "";
let pristine: Buffer;
const ALL = ["database", "uploads", "config", "logs"];

function changeNotes(tag: string): void {
  const db = new Database(crm.db);
  db.prepare(`UPDATE "Note" SET body = ? WHERE id IN (100, 1900)`).run(`${tag} `.repeat(40));
  db.close();
}

beforeAll(async () => {
  const db = new Database(crm.db);
  db.exec(`CREATE TABLE "Note" (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
  const ins = db.prepare(`INSERT INTO "Note" (body) VALUES (?)`);
  db.transaction(() => { for (let i = 1; i <= 2000; i++) ins.run(`note ${i} `.repeat(30)); })();
  db.close();
  await runBackup(engine, { type: "manual" });
  changeNotes("day");
  const out = await runBackup(engine, { type: "daily" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  day = out.manifest;
  expect(day.components.database!.files[0]!.blobs.some((b) => (b.patches?.length ?? 0) > 0)).toBe(true);
  manifestFile = path.join(store, "daily", `${day.id}.json`);
  pristine = readFileSync(manifestFile);
  // The live CRM differs from the backup everywhere, so a restore needs every piece, the patched ones included.
  changeNotes("live");
  for (const f of day.components.uploads!.files) writeFileSync(path.join(crm.root, f.path), `live, newer: ${f.path}\n`);
});

type Compact = Record<string, any>;
/** The manifest as stored (compact JSON, pack names in a table, gzipped), edited, then stored again. */
function storeEdited(edit: (compact: Compact) => void): void {
  const compact = JSON.parse(manifestText(day)) as Compact;
  edit(compact);
  writeFileSync(manifestFile, gzipText(JSON.stringify(compact)));
}
const dbFile = (c: Compact) => c.components.database.files[0];
const patchedPiece = (c: Compact) => dbFile(c).blobs.find((b: Compact) => b.patches?.length);
const firstUpload = (c: Compact) => c.components.uploads.files.find((f: Compact) => f.blobs.length > 0);
const packSize = (c: Compact, index: number) => readFileSync(path.join(store, c.packs[index])).length;

const HOSTILE: { name: string; edit: (c: Compact) => void; says: RegExp }[] = [
  {
    name: "a patched piece's bundle range past the end of its pack",
    edit: (c) => { const b = patchedPiece(c).patches[0].bundle; b.offset = packSize(c, b.pack) - 10; },
    says: /of database\/dev\.db: .*\.pack holds 10 bytes at \d+, expected \d+; the store is damaged/,
  },
  {
    name: "a patched piece's bundle claiming far more bytes than a piece can hold",
    edit: (c) => { const b = patchedPiece(c).patches[0].bundle; b.length = 512 * 1024 * 1024; b.size = 512 * 1024 * 1024; },
    says: /of database\/dev\.db: recorded sizes 536870912\/536870912 exceed .*not one this tool made/,
  },
  {
    name: "an upload's piece at an offset outside its pack",
    edit: (c) => { const b = firstUpload(c).blobs[0]; b.offset = packSize(c, b.pack) + 4096; },
    says: /of uploads\/.*\.pack holds 0 bytes at \d+, expected \d+; the store is damaged/,
  },
  {
    name: "the same upload path listed twice",
    edit: (c) => { const files = c.components.uploads.files; files.push({ ...firstUpload(c) }); },
    says: /uploads\/.*: listed more than once/,
  },
  {
    name: "a compact upload entry without its SHA-256",
    edit: (c) => { delete firstUpload(c).sha256; },
    says: /does not match the manifest schema \(components\.uploads\.files\.\d+\.sha256: /,
  },
  {
    // (A file's only piece may leave its size out: decoding takes the file's. Of many pieces, each must say.)
    name: "a compact database piece without its size",
    edit: (c) => { delete dbFile(c).blobs[1].size; },
    says: /does not match the manifest schema \(components\.database\.files\.0\.blobs\.1\.size: /,
  },
  {
    name: "a compact database record without its files",
    edit: (c) => { delete c.components.database.files; },
    says: /does not match the manifest schema \(components\.database\.files: /,
  },
];

describe("hostile v2 manifests on the restore's new paths", () => {
  it.each(HOSTILE)("$name: refused, naming the backup and the fault; live data untouched", async ({ edit, says }) => {
    writeFileSync(manifestFile, pristine);
    storeEdited(edit);
    const before = crmState(crm.root);
    const err = await runRestore(engine, { backupId: day.id, components: ALL, confirm: "CONFIRM_RESTORE" }).then(() => null, (e: Error) => e);
    expect(err, "the restore went through").toBeInstanceOf(BackupError);
    expect(err!.message).toContain(day.id);
    expect(err!.message).toMatch(says);
    expect(crmState(crm.root)).toEqual(before);
    expect(restoreLeftovers(crm.root)).toEqual([]);
  });

  it("the pristine manifest restores (so each refusal above is the edit's doing)", async () => {
    writeFileSync(manifestFile, pristine);
    await runRestore(engine, { backupId: day.id, components: ALL, confirm: "CONFIRM_RESTORE" });
    expect(crmState(crm.root).uploads).not.toEqual({});
  });
});
