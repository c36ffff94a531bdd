// A store whose database pieces were cut at 32 KiB (every store written before 2026-12-07) under today's DB_CHUNK_SIZE:
// the next backup stores the database whole in the new size, patches resume from there, and the old backups still
// verify, export and restore their own database. The old writer is today's with DB_CHUNK_SIZE mocked to 32 KiB.
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import type { Engine } from "../core/engine.ts";
import { DATABASE_ENTRY, type StoredManifestV2 } from "../core/manifest.ts";
import { changeNotes, growNotes } from "./helpers/notes-db.ts";
import { dbContent, makeCrm, makeTestEngine } from "./helpers/crm.ts";

const OLD_PIECE = 32 * 1024;

/** The core modules as built with `pieceSize` database pieces (undefined: today's), loaded afresh. */
async function core(pieceSize?: number) {
  vi.resetModules();
  if (pieceSize) {
    vi.doMock("../core/v2/blob-codec.ts", async (original) => ({ ...(await original<typeof import("../core/v2/blob-codec.ts")>()), DB_CHUNK_SIZE: pieceSize }));
  } else vi.doUnmock("../core/v2/blob-codec.ts");
  // One at a time, the codec first: the mocked module is in place before anything that imports it loads.
  const { DB_CHUNK_SIZE } = await import("../core/v2/blob-codec.ts");
  const { runBackup } = await import("../core/backup.ts");
  const { runRestore } = await import("../core/restore.ts");
  const { verifyBackup } = await import("../core/verify.ts");
  const { exportStream } = await import("../core/v2/export.ts");
  const backup = async (engine: Engine): Promise<StoredManifestV2> => {
    const out = await runBackup(engine, { type: "daily" });
    if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    return out.manifest;
  };
  return { backup, runRestore, verifyBackup, exportStream, DB_CHUNK_SIZE };
}

const pieces = (m: StoredManifestV2) => m.components.database!.files.find((f) => f.path === DATABASE_ENTRY)!.blobs;

describe("v2 database pieces of an older size", () => {
  it("a store of 32 KiB pieces: the next backup stores the database whole at today's size, patches resume, old backups still restore", { timeout: 120_000 }, async () => {
    const crm = makeCrm();
    growNotes(crm);
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2" });

    const old = await core(OLD_PIECE);
    const first = await old.backup(engine);
    changeNotes(crm, 1, [100, 1500]);
    const oldDay = await old.backup(engine);
    const oldRows = dbContent(crm.db);
    expect(pieces(first).slice(0, -1).every((b) => b.size === OLD_PIECE)).toBe(true);
    expect(pieces(oldDay).some((b) => (b.patches?.length ?? 0) > 0)).toBe(true); // the old writer patched as it did

    const now = await core();
    expect(now.DB_CHUNK_SIZE).toBeGreaterThan(OLD_PIECE);
    changeNotes(crm, 2, [2000]);
    const whole = await now.backup(engine);
    expect(pieces(whole).slice(0, -1).every((b) => b.size === now.DB_CHUNK_SIZE)).toBe(true);
    expect(pieces(whole).some((b) => b.patches)).toBe(false); // no base of its size: stored whole
    changeNotes(crm, 3, [2500]);
    const next = await now.backup(engine);
    expect(pieces(next).some((b) => (b.patches?.length ?? 0) > 0)).toBe(true);

    for (const m of [first, oldDay, whole, next]) expect((await now.verifyBackup(engine, m.id)).ok).toBe(true);
    // The old day's database exported (a .tar.gz): the member's bytes hash to its record.
    const tar: Buffer[] = [];
    for await (const c of await now.exportStream(engine.storage, oldDay)) tar.push(c as Buffer);
    const f = oldDay.components.database!.files[0]!;
    const all = gunzipSync(Buffer.concat(tar));
    const at = all.indexOf(Buffer.from("database/dev.db\0"));
    expect(at).toBeGreaterThanOrEqual(0);
    const body = all.subarray(at + 512, at + 512 + f.size); // the member's data follows its 512-byte header
    expect(createHash("sha256").update(body).digest("hex")).toBe(f.sha256);
    // Restored over today's data (its pre-restore backup in 64 KiB pieces): the old day's rows come back.
    await now.runRestore(engine, { backupId: oldDay.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
    expect(dbContent(crm.db)).toEqual(oldRows);
  });
});
