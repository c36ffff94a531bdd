// Restoring a v2 backup writes only what differs: unchanged live files are copied, not decoded; result, modes, owners, rollback stay exact.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { readManifest } from "../core/catalog.ts";
import type { Engine } from "../core/engine.ts";
import { RestoreError } from "../core/errors.ts";
import type { StoredManifestV2 } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { dbContent, makeCrm, makeTestEngine } from "./helpers/crm.ts";
import { holdDatabase, killHolders } from "./helpers/db-holder.ts";

const V2 = { BACKUP_FORMAT: "v2" };
const ALL = ["database", "uploads", "config", "logs"];
/** Files changed within this long are copied and hashed rather than trusted by metadata (RACY_MS in restore-reuse.ts). */
const settle = () => new Promise((r) => setTimeout(r, 2100));

async function backup(engine: Engine): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}

/** N more uploads of varied sizes, two of them several 1 MiB pieces long so that read-ahead and multi-piece files are covered. */
function addUploads(root: string, n: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const rel = `batch/${i % 3}/file-${i}.dat`;
    const size = i < 2 ? 2_500_000 + i * 1000 : 1000 + i * 3001;
    const body = Buffer.alloc(size);
    for (let j = 0; j < size; j += 4096) body.write(`${rel}:${j};`, j);
    mkdirSync(path.dirname(path.join(root, "uploads", rel)), { recursive: true });
    writeFileSync(path.join(root, "uploads", rel), body, { mode: i % 2 ? 0o640 : 0o644 });
    names.push(`uploads/${rel}`);
  }
  return names;
}

/** Every regular file under the CRM, the live database and its journals excepted: content, mode, owner, inode, times. */
function liveFiles(root: string) {
  const out: Record<string, { sha256: string; mode: number; uid: number; gid: number; ino: bigint; ctimeNs: bigint; mtimeNs: bigint; nlink: bigint }> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && !r.startsWith("prisma/dev.db")) {
        const st = statSync(path.join(root, r), { bigint: true });
        out[r] = {
          sha256: createHash("sha256").update(readFileSync(path.join(root, r))).digest("hex"), mode: Number(st.mode & 0o777n),
          uid: Number(st.uid), gid: Number(st.gid), ino: st.ino, ctimeNs: st.ctimeNs, mtimeNs: st.mtimeNs, nlink: st.nlink,
        };
      }
    }
  };
  walk("");
  return out;
}

/** The restored CRM equals the backup: every uploads and config file hashed against the manifest, with its mode and mtime. */
function expectEqualsBackup(root: string, m: StoredManifestV2): void {
  for (const f of [...m.components.uploads!.files, ...m.components.config!.files]) {
    const live = f.path.startsWith("uploads/") ? path.join(root, f.path) : path.join(root, f.path.slice("config/".length));
    // The backup records whole milliseconds: a file kept in place keeps its finer mtime, and one written back gets
    // the recorded one through utimes' float seconds; both are within the millisecond recorded.
    const st = statSync(live, { bigint: true });
    const ms = Number(st.mtimeNs) / 1e6;
    const mtime = Math.abs(ms - Date.parse(f.mtime ?? "")) < 1 ? f.mtime : new Date(ms).toISOString();
    expect({ path: f.path, sha256: createHash("sha256").update(readFileSync(live)).digest("hex"), mode: Number(st.mode) & 0o777, mtime })
      .toEqual({ path: f.path, sha256: f.sha256, mode: f.mode, mtime: f.mtime });
  }
}

afterEach(killHolders);

describe("v2 restore writes only what differs", () => {
  it("when live data equals a recent backup, the pre-restore backup reads only the database and staging decodes only database and logs", async () => {
    const crm = makeCrm();
    addUploads(crm.root, 12);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    await settle();
    const before = liveFiles(crm.root);
    // A database written since the backup (its mtime moved) is snapshotted again, whatever the clock says: filesRead counts it.
    utimesSync(crm.db, new Date(), new Date());

    const out = await runRestore(engine, { backupId: m.id, components: ALL, confirm: "CONFIRM_RESTORE" });
    const pre = (await readManifest(engine.storage, out.preRestoreBackupId)) as StoredManifestV2;
    const files = (c: string) => m.components[c]!.files.length;
    // Nothing changed since the backup: only the database snapshot is read and hashed; every file is reused by metadata.
    expect(pre.stored.filesRead).toBe(1);
    expect(pre.stored.filesReused).toBe(files("uploads") + files("config") + files("logs"));
    // Logs are stored gzipped and the database goes through SQLite, so those are decoded; uploads and config are kept in place.
    expect(out.staged).toEqual({
      // The database is the pre-restore backup's snapshot, unchanged since the backup: every piece comes from it.
      // Logs the pre-restore backup recorded with the same gzip bytes are copied from the live log, not gunzipped.
      filesWritten: 1, bytesDecoded: 0, bytesFromBase: m.components.database!.totalSize,
      filesReused: files("uploads") + files("config") + files("logs"),
      bytesReused: m.components.uploads!.totalSize + m.components.config!.totalSize + m.components.logs!.files.reduce((n, f) => n + f.originalSize!, 0),
      filesHashed: 0,
    });
    expectEqualsBackup(crm.root, m);
    const after = liveFiles(crm.root);
    for (const [rel, b] of Object.entries(before)) {
      // Same content, mode and owner; uploads and config already equal to the backup's are never touched: same inode and ctime.
      expect({ rel, sha256: after[rel]!.sha256, mode: after[rel]!.mode, uid: after[rel]!.uid, gid: after[rel]!.gid, nlink: after[rel]!.nlink })
        .toEqual({ rel, sha256: b.sha256, mode: b.mode, uid: b.uid, gid: b.gid, nlink: 1n });
      if (rel.startsWith("uploads/")) expect({ rel, ino: after[rel]!.ino, ctimeNs: after[rel]!.ctimeNs }).toEqual({ rel, ino: b.ino, ctimeNs: b.ctimeNs });
    }
  });

  it("restores a CRM where 2 of N uploads changed by decoding only those two, byte-identical to the backup", async () => {
    const crm = makeCrm();
    const names = addUploads(crm.root, 20);
    const old = new Date("2025-03-04T05:06:07Z");
    utimesSync(path.join(crm.root, names[5]!), old, old);
    // Owned by the CRM's user, not by the root that restores: copies and decoded files alike must get that owner back.
    if (process.getuid?.() === 0) execFileSync("chown", ["-R", "65534:65534", path.join(crm.root, "uploads")]);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    const rows = dbContent(crm.db);
    // One changed in place at the same size (only its hash tells), one rewritten shorter (multi-piece), one added.
    const same = readFileSync(path.join(crm.root, names[7]!));
    same[10] = same[10]! ^ 1;
    writeFileSync(path.join(crm.root, names[7]!), same);
    writeFileSync(path.join(crm.root, names[0]!), "rewritten shorter");
    writeFileSync(path.join(crm.root, "uploads/batch/added-later.dat"), "not in the backup");
    const owners = liveFiles(crm.root);
    await settle();
    // A database written since the backup (its mtime moved) is snapshotted again, whatever the clock says: filesRead counts it.
    utimesSync(crm.db, new Date(), new Date());

    const out = await runRestore(engine, { backupId: m.id, components: ["uploads", "config"], confirm: "CONFIRM_RESTORE" });
    const uploads = m.components.uploads!.files;
    const changed = uploads.filter((f) => f.path === names[7] || f.path === names[0]);
    expect(out.staged).toMatchObject({
      filesWritten: 2, bytesDecoded: changed.reduce((n, f) => n + f.size, 0),
      filesReused: uploads.length - 2 + m.components.config!.files.length, filesHashed: 0,
    });
    const pre = (await readManifest(engine.storage, out.preRestoreBackupId)) as StoredManifestV2;
    expect(pre.stored.filesRead).toBe(1 + 3); // the database snapshot and the three changed or added uploads
    expectEqualsBackup(crm.root, m);
    expect(readdirSync(path.join(crm.root, "uploads/batch"))).not.toContain("added-later.dat");
    expect(statSync(path.join(crm.root, names[5]!)).mtime.toISOString()).toBe(old.toISOString());
    expect(dbContent(crm.db)).toEqual(rows);
    const after = liveFiles(crm.root);
    for (const f of uploads) expect({ path: f.path, uid: after[f.path]!.uid, gid: after[f.path]!.gid }).toEqual({ path: f.path, uid: owners[f.path]!.uid, gid: owners[f.path]!.gid });
  });

  it("without a trustworthy record (files changed moments ago) proves equality by hashing the copy", async () => {
    const crm = makeCrm();
    const names = addUploads(crm.root, 6);
    const engine = makeTestEngine(crm.root, undefined, V2);
    const m = await backup(engine);
    // Rewritten with the same bytes just now: the record's identity no longer matches, and the ctime is too recent to trust.
    for (const n of names) writeFileSync(path.join(crm.root, n), readFileSync(path.join(crm.root, n)));
    writeFileSync(path.join(crm.root, names[3]!), Buffer.alloc(statSync(path.join(crm.root, names[3]!)).size, 7));

    const out = await runRestore(engine, { backupId: m.id, components: ["uploads"], confirm: "CONFIRM_RESTORE" });
    expect(out.staged).toMatchObject({ filesWritten: 1, filesReused: m.components.uploads!.files.length - 1 });
    // Every rewritten file was hashed; the one that differs was hashed, found different and decoded.
    expect(out.staged!.filesHashed).toBeGreaterThanOrEqual(names.length);
    expectEqualsBackup(crm.root, { ...m, components: { ...m.components, config: { ...m.components.config!, files: [] } } });
  });

  it("rolls back uploads staged from live copies when the database swap fails, leaving every live file untouched", async () => {
    const crm = makeCrm();
    addUploads(crm.root, 8);
    const engine = makeTestEngine(crm.root, undefined, { ...V2, BACKUP_DB_BUSY_TIMEOUT_MS: "300" });
    const m = await backup(engine);
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "live version");
    await settle();
    const before = liveFiles(crm.root);
    // A writer holding an exclusive transaction longer than the busy timeout makes the database step fail for real.
    const { ask } = holdDatabase(crm.db);
    await ask({ op: "exec", sql: `DELETE FROM "Deal"` });
    await ask({ op: "lock" });
    const err = await runRestore(engine, { backupId: m.id, components: ["uploads", "database"], confirm: "CONFIRM_RESTORE" }).catch((e) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect(err.rolledBack).toBe(true);
    expect(err.message).toMatch(/rolled back uploads/);
    // Exactly the pre-restore state: same content, inodes, times and link counts. The one upload that differed was
    // moved aside and renamed back by the rollback, which keeps its inode but lets rename(2) stamp a new ctime (a user
    // cannot set ctime); every file the restore left in place keeps its ctime too.
    const after = liveFiles(crm.root);
    expect(after["uploads/a.txt"]!.ctimeNs).toBeGreaterThanOrEqual(before["uploads/a.txt"]!.ctimeNs);
    after["uploads/a.txt"]!.ctimeNs = before["uploads/a.txt"]!.ctimeNs;
    expect(after).toEqual(before);
    await ask({ op: "unlock" });
    expect(await ask({ op: "count", table: "Deal" })).toEqual({ count: 0 });
  });
});
