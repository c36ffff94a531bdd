// Restore's staging for v2 backups: the chosen components written into the layout tar extraction makes, only for files that differ.
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { readManifest } from "../catalog.ts";
import type { StoredManifest } from "../manifest.ts";
import type { Progress } from "../engine.ts";
import { DATABASE_ENTRY, type ComponentName, type FileEntryV2, type StoredManifestV2 } from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { PackReader, listedTwice, stagedPath, writeFromBlobs } from "./reader.ts";
import { LiveFiles, type LivePaths } from "./restore-reuse.ts";
import { writeFromBase, type DatabaseAhead, type DatabaseBase } from "./restore-db-base.ts";
import { syncTree } from "./sync-tree.ts";

/**
 * Files staged at once. Decoding is gunzip on libuv's pool plus hashing here, copies are copy_file_range on the
 * same pool: a few in flight keep both cores and the disk busy. Memory stays bounded: each file holds at most a few pieces
 * (READ_AHEAD in reader.ts) and the pack cache is capped by bytes.
 */
const CONCURRENCY = 4;

export interface StagingStats {
  /** Files written from the backup's blobs (read from the store, decoded, checked). */
  filesWritten: number;
  bytesDecoded: number;
  /** Files whose live counterpart already held the backup's content: copied from it, nothing read from the store. */
  filesReused: number;
  bytesReused: number;
  /** Reused files whose equality was proven by hashing the copy, because no trustworthy record said so. */
  filesHashed: number;
  /** Bytes of the staged database copied from a local base (see `databaseBase`) instead of decoded; counted in bytesDecoded's file. */
  bytesFromBase: number;
}

export interface StagingOptions {
  /** The live CRM the staged files will replace; without it every file is decoded. */
  live?: LivePaths;
  /** The pre-restore backup just taken: its records say which live files already hold which content. */
  preRestoreId?: string;
  /** That backup's manifest, when the caller has it (else it is read by `preRestoreId`). */
  pre?: StoredManifest;
  /**
   * Given, live uploads and config files that already are the backup's (content, mode, mtime) are not staged at all:
   * their entry paths are added to `entries`, and the restore swaps only the others in, file by file. `recheck` is
   * set to a check, run before the restore commits, that names a kept file written meanwhile (null: none).
   */
  keep?: KeptFiles;
  /**
   * A local database nearly equal to the backup's (the pre-restore backup's snapshot) with its recorded pieces: the
   * staged database is copied from it and only the pieces that differ are decoded (restore-db-base.ts); its whole
   * SHA-256 is checked, and should it not match, the database is decoded whole as without a base.
   */
  databaseBase?: DatabaseBase;
  /**
   * The database already being staged from a base (stageDatabaseAhead): awaited and moved into place; when it could
   * not use its base, `databaseBase` (if given) is tried, then the database is decoded whole. A store failure in it is
   * this staging's failure.
   */
  databaseAhead?: DatabaseAhead;
  /**
   * False when the staged database is only ever copied into the live one through SQLite (a restore in place), which
   * makes the live copy durable itself: then it is not fsynced (100 MB written out for nothing). Default true.
   */
  syncDatabase?: boolean;
  /** Given, logs staged already gunzipped (copied from the live log they equal) are added: the gunzip skips them. */
  plainLogs?: Set<string>;
}

export interface KeptFiles {
  entries: Set<string>;
  recheck?: () => Promise<string | null>;
}

/** After this, `stagedFiles` looks exactly as if a v1 archive of the same backup had been extracted there. */
export async function stageV2Components(
  storage: Storage, manifest: StoredManifestV2, components: readonly ComponentName[], stagedFiles: string,
  onProgress?: (p: Progress) => void, options: StagingOptions = {},
): Promise<StagingStats> {
  await mkdir(stagedFiles, { recursive: false, mode: 0o700 });
  const reader = new PackReader(storage);
  const pre = options.pre ?? (options.preRestoreId ? await readManifest(storage, options.preRestoreId).catch(() => null) : null);
  const live = options.live ? LiveFiles.fromManifest(options.live, pre) : null;
  const total = components.reduce((n, c) => n + (manifest.components[c]?.totalSize ?? 0), 0);
  const stats: StagingStats = { filesWritten: 0, bytesDecoded: 0, filesReused: 0, bytesReused: 0, filesHashed: 0, bytesFromBase: 0 };
  let done = 0;
  const progress = (n: number) => onProgress?.({ phase: "extract", done: (done += n), total });

  // Names are checked before any content is written: a bad name (or one listed twice) stops the restore at once.
  const jobs: { f: FileEntryV2; dest: string }[] = [];
  const seen = new Set<string>();
  for (const c of components) {
    for (const f of manifest.components[c]?.files ?? []) {
      const dest = stagedPath(stagedFiles, c, f);
      if (seen.has(dest)) throw listedTwice(f);
      seen.add(dest);
      jobs.push({ f, dest });
    }
  }
  const keep = live && options.keep;
  if (keep) keep.recheck = () => live.changedKept();
  const written: string[] = [];
  const folders = new Set<string>([stagedFiles]);

  // Written without an fsync each, then those the swap renames into place made durable together before it can publish them.
  await eachAtMost(CONCURRENCY, jobs, async ({ f, dest }) => {
    if (keep && (await live.keepIfSame(f))) {
      keep.entries.add(f.path);
      return progress(f.size);
    }
    // Folders only for what is staged: a restore that keeps nearly every file makes nearly no folders.
    const dir = path.dirname(dest);
    if (!folders.has(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (let d = dir; d.length > stagedFiles.length; d = path.dirname(d)) folders.add(d);
    }
    // A log the live CRM still holds unchanged is copied as the plain .log the gunzip would make (see `plainLogs`).
    const plain = dest.replace(/\.gz$/, "");
    if (live && options.plainLogs && f.path.startsWith("logs/") && (await live.copyLogIfSame(f, plain))) {
      written.push(plain);
      options.plainLogs.add(f.path);
      return progress(f.size);
    }
    if (f.path !== DATABASE_ENTRY || options.syncDatabase !== false) written.push(dest);
    if (live && (await live.copyIfSame(f, dest, false))) return progress(f.size);
    stats.filesWritten++;
    const ahead = f.path === DATABASE_ENTRY ? await takeAhead(options.databaseAhead, f, dest) : null;
    if (ahead) progress(f.size);
    const patched = ahead ?? (options.databaseBase && f.path === DATABASE_ENTRY ? await writeFromBase(reader, f, dest, options.databaseBase, progress) : null);
    if (patched) {
      stats.bytesDecoded += patched.bytesDecoded;
      stats.bytesFromBase += patched.bytesFromBase;
      return;
    }
    await writeFromBlobs(reader, f, dest, progress, false);
    stats.bytesDecoded += f.size;
  }).finally(() => reader.close());
  await syncTree(stagedFiles, written, [...folders]);
  if (live) Object.assign(stats, { filesReused: live.stats.filesReused, bytesReused: live.stats.bytesReused, filesHashed: live.stats.filesHashed });
  return stats;
}

/** The database staged ahead, moved to `dest` when it is `f`'s and was staged from its base; null: stage it here. */
async function takeAhead(ahead: DatabaseAhead | undefined, f: FileEntryV2, dest: string): Promise<{ bytesDecoded: number; bytesFromBase: number } | null> {
  if (!ahead) return null;
  const outcome = await ahead.result;
  if ("error" in outcome) throw outcome.error;
  if (!outcome.staged || ahead.sha256 !== f.sha256) {
    await rm(ahead.file, { force: true });
    return null;
  }
  await rename(ahead.file, dest);
  return outcome.staged;
}

/** Runs `work` over `items`, at most `limit` at once; on the first failure takes nothing new, waits for the rest, throws it. */
async function eachAtMost<T>(limit: number, items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}
