// Restore's shortcut for unchanged files: a staged file whose content the live file already holds is copied from it, not decoded.
import { createHash } from "node:crypto";
import { constants as fsc, createReadStream, lstatSync, type BigIntStats } from "node:fs";
import { chmod, copyFile, lstat, open, unlink } from "node:fs/promises";
import path from "node:path";
import type { FileEntry, FileEntryV2, StoredManifest } from "../manifest.ts";
import { finishStagedFile, listedTwice } from "./reader.ts";

/** Where each component's files live, as `config.paths` names them. */
export interface LivePaths { root: string; uploads: string; logs?: string }

/** What the live CRM holds, as the pre-restore backup just recorded it: content hash and (v2) the file's identity. */
type LiveRecord = Pick<FileEntry, "sha256" | "size"> & { source?: FileEntryV2["source"] };

/**
 * A file whose ctime is this close to now is not trusted by metadata: ext4 and others stamp times from a coarse
 * clock (a few ms), so a write landing in the same tick as the record would leave size, times and inode unchanged
 * ("racy git"). Such a file is copied and the copy hashed instead.
 */
const RACY_MS = 2000;

/**
 * Why a copy and not a hard link. A hard link would be O(1), but the staged file would share the live file's inode:
 * a write by the CRM to the live file between staging and swap, or through a descriptor it keeps open across the
 * swap, would land in the restored file, which then no longer equals the backup; link(2) itself changes the live
 * file's ctime and link count, so the pre-restore state that rollback brings back would differ (and the next backup
 * would re-read every such file); and chmod, chown and utimes in staging would change the live file too.
 * `copyFile` with COPYFILE_FICLONE makes an independent file: a reflink where the filesystem has them (btrfs, XFS:
 * O(1), extents shared copy-on-write, so later writes to either side stay apart), else an in-kernel copy
 * (copy_file_range): no decode, no store read, no bytes through this process, and the live file is left untouched.
 */
export class LiveFiles {
  readonly stats = { filesReused: 0, bytesReused: 0, filesHashed: 0 };
  /**
   * Live files left in place because they already are the backup's file: entry path -> their identity when judged, as
   * one short string (identityKey). Kept as the lstat results themselves, these were ~1 KiB per file (a BigIntStats,
   * its 18 BigInts and 4 Dates, and the live path): ~15 MiB of a scale-4 bench restore's heap through the swap.
   */
  readonly kept = new Map<string, string>();

  /** `records`: entry path -> what the pre-restore backup recorded for it (empty when it recorded nothing usable). */
  constructor(private readonly live: LivePaths, private readonly records: Map<string, LiveRecord>) {}

  static fromManifest(live: LivePaths, pre: StoredManifest | null): LiveFiles {
    const records = new Map<string, LiveRecord>();
    for (const name of ["uploads", "config", "logs"] as const) for (const f of pre?.components[name]?.files ?? []) records.set(f.path, f);
    return new LiveFiles(live, records);
  }

  /** The live file that `entry` would replace, for the components whose staged files mirror live files one to one. */
  private livePath(entry: string): string | null {
    // Logs are staged gzipped and the database goes through SQLite: neither has a live file of the same content.
    if (entry.startsWith("uploads/")) return path.join(this.live.uploads, entry.slice("uploads/".length));
    if (entry.startsWith("config/")) return path.join(this.live.root, entry.slice("config/".length));
    return null;
  }

  /**
   * True when the live counterpart of `f` already is the backup's file (content, mode and mtime), so the restore can
   * leave it in place, untouched: its inode, ctime and owner stay. Content is proven as in `copyIfSame` (a trustworthy
   * record, else hashing the live file). The identity judged is kept, so `changedKept` can tell a later write.
   */
  async keepIfSame(f: FileEntryV2): Promise<boolean> {
    const live = this.livePath(f.path);
    if (!live) return false;
    const started = Date.now();
    // A stat taken synchronously: thousands of files are judged, nearly all by this stat and a record alone, and
    // each async stat waited its turn on libuv's four threads behind the staging's reads and copies.
    const before = lstatNow(live);
    if (!before?.isFile() || Number(before.size) !== f.size || Number(before.nlink) !== 1) return false;
    if ((Number(before.mode) & 0o777) !== f.mode || new Date(Number(before.mtimeMs)).toISOString() !== f.mtime) return false;
    const rec = this.records.get(f.path);
    const known = !!rec?.source && sameIdentity(rec.source, before) && Number(before.ctimeMs) < started - RACY_MS;
    if (known && rec!.sha256 !== f.sha256) return false;
    if (!known) {
      this.stats.filesHashed++;
      const sha = await hashOf(live).catch(() => null);
      const after = await lstat(live, { bigint: true }).catch(() => null);
      if (sha !== f.sha256 || !after || !sameStats(before, after)) return false;
    }
    this.kept.set(f.path, identityKey(before));
    this.stats.filesReused++;
    this.stats.bytesReused += f.size;
    return true;
  }

  /** The first kept file whose identity moved since it was judged (written, replaced or removed meanwhile), or null. */
  async changedKept(): Promise<string | null> {
    // Synchronously, as in keepIfSame: thousands of stats, each a few microseconds, without a trip to libuv's pool.
    for (const [entry, was] of this.kept) {
      const live = this.livePath(entry)!;
      const now = lstatNow(live);
      if (!now || identityKey(now) !== was) return live;
    }
    return null;
  }

  /**
   * Copies the live counterpart of `f` to `dest` (a fresh name in staging) when it holds exactly the backup's content,
   * finishing it as a decoded file would be (mode, mtime, fsync unless `sync` is false); false, with nothing left at `dest`, when it does not.
   * `f.path` has passed the component rules already.
   */
  async copyIfSame(f: FileEntryV2, dest: string, sync = true): Promise<boolean> {
    const live = this.livePath(f.path);
    if (!live) return false;
    const started = Date.now();
    const before = await lstat(live, { bigint: true }).catch(() => null);
    if (!before?.isFile() || Number(before.size) !== f.size) return false;
    const rec = this.records.get(f.path);
    const known = !!rec?.source && sameIdentity(rec.source, before) && Number(before.ctimeMs) < started - RACY_MS;
    if (known && rec!.sha256 !== f.sha256) return false;
    try {
      await copyFile(live, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw listedTwice(f);
      return false; // vanished or unreadable meanwhile: the blobs have it
    }
    const fh = await open(dest, fsc.O_RDWR | (fsc.O_NOFOLLOW ?? 0));
    let same = false;
    try {
      const after = await lstat(live, { bigint: true }).catch(() => null);
      // Changed while copied (or no trustworthy record): only the copy's own hash can say what it holds.
      if (known && after && sameStats(before, after)) same = true;
      else {
        this.stats.filesHashed++;
        same = (await hashOf(dest)) === f.sha256;
      }
      if (same) await finishStagedFile(fh, f, sync);
    } finally {
      await fh.close();
    }
    if (!same) {
      await unlink(dest);
      return false;
    }
    this.stats.filesReused++;
    this.stats.bytesReused += f.size;
    return true;
  }
  /**
   * Copies the live log that `f` (a backup's logs/<rel>.log.gz entry) was gzipped from to `dest` (the staged plain
   * .log) when the pre-restore backup recorded that very live file with the same gzip bytes, so the gunzip is skipped.
   * Equal gzip bytes mean equal content (gunzip is deterministic); the live file must still have the identity that
   * record names (size, times, inode; not written within RACY_MS) before and after the copy. There is no hashing
   * fallback: a stored log's hash is of its gzip, so without that record the log is decoded as before. The copy gets the
   * recorded mode, as a gunzipped log does. False, with nothing left at `dest`, when it cannot be proven equal.
   */
  async copyLogIfSame(f: FileEntryV2, dest: string): Promise<boolean> {
    if (!this.live.logs || !f.path.startsWith("logs/") || !f.path.endsWith(".log.gz") || f.originalSize === undefined) return false;
    const rec = this.records.get(f.path);
    if (!rec?.source || rec.sha256 !== f.sha256) return false;
    const live = path.join(this.live.logs, f.path.slice("logs/".length, -".gz".length));
    const started = Date.now();
    const before = await lstat(live, { bigint: true }).catch(() => null);
    if (!before?.isFile() || Number(before.size) !== f.originalSize || !sameIdentity(rec.source, before) || Number(before.ctimeMs) >= started - RACY_MS) return false;
    try {
      await copyFile(live, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw listedTwice(f);
      return false;
    }
    const after = await lstat(live, { bigint: true }).catch(() => null);
    if (!after || !sameStats(before, after)) {
      await unlink(dest);
      return false;
    }
    await chmod(dest, f.mode & 0o777);
    this.stats.filesReused++;
    this.stats.bytesReused += f.originalSize;
    return true;
  }
}

/** lstat now, on this thread; null when the file cannot be stat'ed (gone, or a folder above it is not one). */
function lstatNow(file: string): BigIntStats | null {
  try {
    return lstatSync(file, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

const sameIdentity = (a: NonNullable<FileEntryV2["source"]>, st: BigIntStats): boolean =>
  a.size === Number(st.size) && a.mtimeNs === String(st.mtimeNs) && a.ctimeNs === String(st.ctimeNs) && a.ino === String(st.ino);

/** What sameStats compares, as one string: equal strings, equal identities. */
const identityKey = (st: BigIntStats): string => `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`;

const sameStats = (a: BigIntStats, b: BigIntStats): boolean =>
  a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.dev === b.dev;

async function hashOf(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
