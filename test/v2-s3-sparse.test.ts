// PackReader.readSparse's wide-merge mode against a real object store (LocalStack S3): neighbouring pieces of a pack
// share one ranged GET across gaps a local store would not bridge, every piece is handed over checked, and a piece whose
// bytes were damaged in S3 is refused by its SHA-256, by readSparse and by a restore that needs it (live data untouched).
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { runBackup } from "../core/backup.ts";
import { loadConfig } from "../core/config.ts";
import { makeEngine, type Engine } from "../core/engine.ts";
import type { BlobRef, StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { PackReader } from "../core/v2/reader.ts";
import { s3TestPrefix } from "./localstack/s3-test-prefix.ts";
import { dbContent, makeCrm, tempDir, treeDigest } from "./helpers/crm.ts";
import { countS3Requests } from "./helpers/s3-requests.ts";
import { restoreLeftovers } from "./fault/helpers.ts";

const { ls, admin, prefix } = s3TestPrefix("v2-sparse");

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function backup(engine: Engine): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

/**
 * The CRM's database replaced by one of random rows that fill whole overflow pages: nearly every piece does not
 * compress, so it is stored raw, and a flipped byte passes every check but the SHA-256 (a gzip piece fails its CRC first).
 */
// 4 KiB pages: a record of 489 + 10 * 4092 bytes keeps 489 on the leaf and fills 10 overflow pages (SQLite's file
// format, "cell payload overflow"); the record's header takes 5 of them (NULL rowid alias, a blob's 3-byte serial type).
const ROW = 489 + 10 * 4092 - 5;

function randomDatabase(file: string, rows: number): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  const db = new Database(file);
  db.pragma("journal_mode = wal");
  db.exec(`CREATE TABLE "Blob" (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`);
  const ins = db.prepare(`INSERT INTO "Blob" (body) VALUES (?)`);
  db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(randomBytes(ROW)); })();
  db.close();
}

/** Flips one byte inside `ref`'s stored bytes in its pack, written straight to S3 as an attacker or a bad disk would. */
async function damageInS3(ref: BlobRef): Promise<void> {
  const Key = prefix + ref.pack;
  const got = await admin.send(new GetObjectCommand({ Bucket: ls.bucket, Key }));
  const body = Buffer.from(await got.Body!.transformToByteArray());
  const at = ref.offset + Math.floor(ref.length / 2);
  body[at] = body[at]! ^ 0xff;
  await admin.send(new PutObjectCommand({ Bucket: ls.bucket, Key, Body: body }));
}

/** How many ranged reads readSparse's rule makes of `refs` with a given gap (pieces of one pack, at most 4 MiB a read). */
function spans(refs: readonly BlobRef[], gap: number): number {
  const sorted = [...refs].sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.offset - b.offset));
  let n = 0;
  let last: { pack: string; start: number; end: number } | undefined;
  for (const r of sorted) {
    const end = r.offset + r.length;
    if (last && last.pack === r.pack && r.offset - last.end <= gap && end - last.start <= 4 * 1024 * 1024) last.end = Math.max(last.end, end);
    else (n++, (last = { pack: r.pack, start: r.offset, end }));
  }
  return n;
}

describe("PackReader.readSparse on S3 (wide merge)", () => {
  it("merges ranges across wide gaps, hands every piece over checked, and refuses a piece damaged in S3 by its SHA-256", async () => {
    const crm = makeCrm();
    randomDatabase(crm.db, 120);
    const storage = new S3Storage({ bucket: ls.bucket, prefix, region: ls.region, endpoint: ls.endpoint });
    const engine = makeEngine({ config: loadConfig({ CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" }), storage, workRoot: tempDir("work-") });
    const m = await backup(engine);
    const blobs = m.components.database!.files[0]!.blobs;
    // Every third piece: the two skipped between asked ones are a gap only the object-store mode bridges.
    expect(blobs.filter((b) => b.encoding === "raw").length).toBeGreaterThan(blobs.length * 0.8);
    const asked = blobs.filter((_, i) => i % 3 === 0);
    expect(asked.length).toBeGreaterThan(20);
    const packs = new Set(asked.map((b) => b.pack)).size;
    // The ranged reads each mode's rule makes of these pieces (reader.ts: 16 KiB gap locally, 1 MiB remotely, 4 MiB spans).
    const local = spans(asked, 16 * 1024);
    const remote = spans(asked, 1024 * 1024);
    expect(remote).toBeLessThan(local / 4);

    const counter = countS3Requests(storage.client);
    const got = new Map<string, string>();
    await new PackReader(storage).readSparse(asked, "database/dev.db", async (ref, plain) => void got.set(ref.sha256, sha(plain)));
    expect(got.size).toBe(new Set(asked.map((b) => b.sha256)).size);
    for (const [want, have] of got) expect(have).toBe(want);
    // The wide merge, as S3 sees it: one ranged GET per merged span, far fewer than pieces or than local-mode ranges.
    const gets = counter.byOperation.GetObject ?? 0;
    expect(gets).toBeGreaterThanOrEqual(packs);
    expect(gets).toBeLessThanOrEqual(remote);

    // A piece in the middle of a merged range, damaged in S3: the rest may be handed over, never that one.
    const victim = asked.filter((b) => b.encoding === "raw")[Math.floor(asked.length / 2)]!;
    await damageInS3(victim);
    const handed: string[] = [];
    const err = await new PackReader(storage).readSparse(asked, "database/dev.db", async (ref, plain) => {
      expect(sha(plain)).toBe(ref.sha256);
      handed.push(ref.sha256);
    }).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(new RegExp(`read blob ${victim.sha256.slice(0, 12)} of database/dev\\.db: .*SHA-256.*differs from the recorded one`));
    expect(handed).not.toContain(victim.sha256);
  });

  it("a restore from S3 that needs the damaged piece is refused, names the backup, and leaves live data as it was", async () => {
    const crm = makeCrm();
    randomDatabase(crm.db, 120);
    const storage = new S3Storage({ bucket: ls.bucket, prefix: `${prefix}restore/`, region: ls.region, endpoint: ls.endpoint });
    const engine = makeEngine({ config: loadConfig({ CRM_ROOT: crm.root, BACKUP_FORMAT: "v2" }), storage, workRoot: tempDir("work-") });
    const old = await backup(engine);
    // Change rows in the middle: the restore stages the old database from the pre-restore snapshot and reads, by sparse
    // ranges, only the pieces that differ. A second backup tells which pieces those are.
    const db = new Database(crm.db);
    db.prepare(`UPDATE "Blob" SET body = randomblob(${ROW}) WHERE id BETWEEN 60 AND 62`).run();
    db.close();
    const now = await backup(engine);
    const oldBlobs = old.components.database!.files[0]!.blobs;
    const nowBlobs = now.components.database!.files[0]!.blobs;
    const differing = oldBlobs.filter((b, i) => b.encoding === "raw" && nowBlobs[i]?.sha256 !== b.sha256 && !nowBlobs.some((n) => n.sha256 === b.sha256));
    expect(differing.length).toBeGreaterThan(0);
    const victim = differing[0]!;
    await damageInS3({ ...victim, pack: `restore/${victim.pack}` } as BlobRef);
    // The live database written again, so the pre-restore backup snapshots it rather than reuse the last record.
    const w = new Database(crm.db);
    w.prepare(`UPDATE "Blob" SET body = randomblob(${ROW}) WHERE id = 5`).run();
    w.close();
    const before = { db: dbContent(crm.db), files: treeDigest(crm.root) };

    const sparse = vi.spyOn(PackReader.prototype, "readSparse");
    const err = await runRestore(engine, { backupId: old.id, components: ["database", "uploads", "config", "logs"], confirm: "CONFIRM_RESTORE" }).then(() => null, (e: Error) => e);
    expect(err?.message).toContain(old.id);
    expect(err?.message).toMatch(new RegExp(`${victim.sha256.slice(0, 12)} of database/dev\\.db: .*SHA-256`));
    // Refused on the sparse path: the staged database started from the pre-restore snapshot and asked for the victim.
    expect(sparse.mock.calls.some(([refs]) => refs.some((r) => r.sha256 === victim.sha256))).toBe(true);
    sparse.mockRestore();
    expect(dbContent(crm.db)).toEqual(before.db);
    const after = treeDigest(crm.root);
    for (const k of Object.keys(after)) if (k.startsWith("prisma/dev.db")) delete after[k];
    for (const k of Object.keys(before.files)) if (k.startsWith("prisma/dev.db")) delete before.files[k];
    expect(after).toEqual(before.files);
    expect(restoreLeftovers(crm.root)).toEqual([]);
  });
});
