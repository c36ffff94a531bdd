// Skipping the database snapshot: reuse the previous v2 backup's database record when the live files provably did not change.
import { stat } from "node:fs/promises";
import { readManifest } from "../catalog.ts";
import type { Engine } from "../engine.ts";
import {
  DATABASE_ENTRY, type BlobRef, type ComponentRecordV2, type FileIdentity, type LiveDatabaseSource,
} from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { storedBlobs } from "./db-pieces.ts";
import type { BlobStore } from "./blob-store.ts";
import type { StoreIndex } from "./store-index.ts";

/**
 * A file last modified this recently is not given an identity. Timestamps come from a coarse clock (a few ms on Linux,
 * 1-2 s on some filesystems, the server's clock on NFS), so a second write within the same tick as the last one, after
 * our stat, could keep size, mtime and ctime all equal ("racily clean", as git calls it). Any write made later than this
 * margin after the recorded mtime moves mtime, so an identity older than the margin cannot hide one.
 */
export const SETTLED_MS = 2_000;

/** For tests: runs between taking the live identity and starting the snapshot, to stand in for a concurrent write. */
export const dbReuseHooks: { afterIdentity?: () => void | Promise<void> } = {};

/**
 * The live database's identity, to be taken BEFORE the snapshot starts. Why that order is safe: every write SQLite makes
 * after this stat lands in the database file or its -wal, changing that file's size or mtime (see SETTLED_MS), so the
 * next backup sees an identity different from the one recorded and snapshots again; every write before it is in the
 * snapshot, which starts later. Taken after the snapshot, a commit landing between the two would be recorded as
 * "unchanged" yet be missing from the snapshot, and every later backup would reuse that stale copy.
 * Undefined when the database is missing (the snapshot reports that) or was written too recently to be trusted.
 */
export async function takeLiveSource(dbPath: string, now = Date.now): Promise<LiveDatabaseSource | undefined> {
  // Unreadable metadata (not just absent) means no identity: the snapshot then reports what is wrong, or copies anyway.
  const db = await identityOf(dbPath).catch(() => undefined);
  const wal = db ? await identityOf(`${dbPath}-wal`).catch(() => undefined) : undefined;
  if (!db || wal === undefined) return undefined;
  const at = now();
  for (const f of [db.identity, wal?.identity]) {
    // An empty -wal holds no frames whatever its times; a write makes it non-empty, which the size shows.
    if (f && f.size > 0 && at - Number(BigInt(f.mtimeNs) / 1_000_000n) < SETTLED_MS) return undefined;
  }
  // An empty -wal is the same as none: our own read-only snapshot creates one where there was none.
  return { db: db.identity, wal: wal && wal.identity.size > 0 ? wal.identity : null };
}

/**
 * The previous v2 backup's database record, when the live database is provably the one it snapshotted: the record came
 * from this host and path, passed integrity_check, recorded the live identity before its snapshot, that identity equals
 * today's, and every piece is still in a pack the index found present. Null means "snapshot as usual".
 * The WAL-over-network-filesystem guard of snapshotDatabase held for the same file (same inode, unchanged) last time.
 */
export async function reuseUnchangedDatabase(engine: Engine, storage: Storage, index: StoreIndex, blobs: BlobStore): Promise<ComponentRecordV2 | null> {
  if (!index.previousId) return null;
  // First the live identity: a database written moments ago cannot be reused, so its previous record is not even read.
  const now = await takeLiveSource(engine.config.paths.database);
  if (!now) return null;
  // The index read that manifest already; reading it again would cost a request (and on S3 ~3 MB) per backup.
  const previous = index.previousManifest ?? await readManifest(storage, index.previousId).catch(() => null);
  if (previous?.formatVersion !== 2 || previous.host !== engine.host) return null;
  const record = previous.components.database;
  const file = record?.files.length === 1 ? record.files[0] : undefined;
  if (!record || record.status !== "included" || !file || file.path !== DATABASE_ENTRY || !record.liveSource) return null;
  if (record.database?.integrityCheck !== "ok" || record.database.sourcePath !== engine.config.paths.database) return null;
  if (!sameIdentity(now.db, record.liveSource.db) || !sameWal(now.wal, record.liveSource.wal)) return null;
  // Each piece by its content: when the recorded copy's pack is not the one the index trusts, a present copy of the
  // same bytes serves (what a fresh snapshot would have deduplicated to); a piece with no present copy means snapshot.
  const refs: BlobRef[] = [];
  for (const b of file.blobs) {
    const present = index.blobs.get(b.sha256);
    if (!present) return null;
    refs.push(JSON.stringify(storedBlobs(present)) === JSON.stringify(storedBlobs(b)) ? b : present);
  }
  blobs.stats.filesReused++;
  blobs.stats.bytesReused += file.size;
  engine.log.info("database unchanged since the previous backup; reusing its snapshot", { previousId: index.previousId });
  return { ...record, files: [{ ...file, blobs: refs }] };
}

async function identityOf(file: string): Promise<{ identity: FileIdentity } | null> {
  try {
    const st = await stat(file, { bigint: true });
    return { identity: { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino) } };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

const sameIdentity = (a: FileIdentity, b: FileIdentity): boolean =>
  a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;

const sameWal = (a: FileIdentity | null, b: FileIdentity | null): boolean => (a === null || b === null ? a === b : sameIdentity(a, b));

/** Both live identities name the same unchanged database and -wal (see takeLiveSource). */
export const sameLiveSource = (a: LiveDatabaseSource, b: LiveDatabaseSource): boolean => sameIdentity(a.db, b.db) && sameWal(a.wal, b.wal);
