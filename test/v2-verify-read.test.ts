// Verify of a v2 backup on the fs store, where the verify threads read each piece from its pack in place, against the
// path every other store takes (whole packs fetched on the main thread): the same verdicts on good and damaged stores.
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import type { Engine } from "../core/engine.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import type { Storage } from "../core/storage/storage.ts";
import { DB_CHUNK_SIZE } from "../core/v2/blob-codec.ts";
import { verifyBackup } from "../core/verify.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";

/** The same store seen without `openFile`, as S3 and memory stores are: pieces come through PackReader. */
function withoutFiles(engine: Engine): Engine {
  const s = engine.storage;
  const storage: Storage = {
    description: s.description,
    put: (k, b, o) => s.put(k, b, o),
    createExclusive: (k, b) => s.createExclusive(k, b),
    get: (k, r) => s.get(k, r),
    getBuffer: (k) => s.getBuffer(k),
    stat: (k) => s.stat(k),
    list: (p) => s.list(p),
    delete: (k, o) => s.delete(k, o),
  };
  return { ...engine, storage };
}

async function setup() {
  const crm = makeCrm();
  // Three 1 MiB pieces: the whole-file SHA-256 runs over pieces read one by one.
  writeFileSync(path.join(crm.root, "uploads/media/big.bin"), randomBytes(2.5 * 1024 * 1024));
  // A database of several pieces, so a piece of it is read at an offset past the first.
  const db = new Database(crm.db);
  db.prepare(`INSERT INTO "Customer" (name, note) VALUES (?, ?)`).run("Many Pages", "n".repeat(4 * DB_CHUNK_SIZE));
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2" });
  expect(engine.storage.openFile).toBeTypeOf("function");
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  const m = out.manifest as StoredManifestV2;
  const big = m.components.uploads!.files.find((f) => f.path === "uploads/media/big.bin")!;
  expect(big.blobs.length).toBe(3);
  expect(m.components.database!.files[0]!.blobs.length).toBeGreaterThan(1);
  return { engine, m, big };
}

const openFds = () => readdirSync("/proc/self/fd").length;

describe("v2 verify reads pieces in place on the fs store", () => {
  it("passes a good backup on both paths and leaves no pack open", async () => {
    const { engine, m } = await setup();
    const fds = openFds();
    const inPlace = await verifyBackup(engine, m.id);
    expect(openFds()).toBe(fds);
    const viaPacks = await verifyBackup(withoutFiles(engine), m.id);
    expect(inPlace.ok).toBe(true);
    expect(viaPacks.ok).toBe(true);
    const strip = (r: typeof inPlace) => ({ ...r, checkedAt: "" });
    expect(strip(inPlace)).toEqual(strip(viaPacks));
    expect(inPlace.components.database!.detail).toMatch(/^integrity_check ok; \d+ tables, \d+ pages$/);
  });

  it("fails a truncated pack, a missing pack and a flipped bit with the same words on both paths", async () => {
    const { engine, m, big } = await setup();
    const store = engine.config.backupDir;
    const ref = big.blobs[1]!;
    const pack = path.join(store, ref.pack);
    const pristine = readFileSync(pack);
    const damages: { name: string; apply: () => void; want: RegExp }[] = [
      { name: "truncated inside the piece", apply: () => truncateSync(pack, ref.offset + 100), want: new RegExp(`${ref.pack} holds \\d+ bytes at \\d+, expected \\d+; the store is damaged`) },
      { name: "missing", apply: () => rmSync(pack), want: new RegExp(`read pack ${ref.pack}: .*the store is missing data this backup needs`) },
      {
        name: "a flipped bit",
        apply: () => {
          const b = Buffer.from(pristine);
          b[ref.offset + 7]! ^= 0x01;
          writeFileSync(pack, b);
        },
        want: /its content \(\d+ bytes, SHA-256 [0-9a-f]{12}\) differs from the recorded one|not a gzip member/,
      },
    ];
    for (const d of damages) {
      d.apply();
      const fds = openFds();
      for (const e of [engine, withoutFiles(engine)]) {
        const r = await verifyBackup(e, m.id);
        expect(r.ok, d.name).toBe(false);
        expect(r.components.uploads!.status, d.name).toBe("failed");
        expect(r.components.uploads!.detail, d.name).toMatch(d.want);
      }
      expect(openFds(), d.name).toBe(fds);
      writeFileSync(pack, pristine);
      expect((await verifyBackup(engine, m.id)).ok, `${d.name}, repaired`).toBe(true);
    }
  });
});
