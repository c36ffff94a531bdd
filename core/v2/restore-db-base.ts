// Staging a backup's database from a local copy of a nearly equal one: copy it, decode only the pieces that differ, check the whole.
import { constants as fsc } from "node:fs";
import { copyFile, open, stat, unlink } from "node:fs/promises";
import { sha256Stream } from "../archive/hashing.ts";
import type { BlobRef, FileEntryV2 } from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { PackReader, checkFileSizes, finishStagedFile, listedTwice } from "./reader.ts";

/** A local database file and the pieces a backup recorded for it (the pre-restore backup's snapshot, in a restore). */
export interface DatabaseBase {
  file: string;
  pieces: readonly BlobRef[];
}

const HASH_READ = 1024 * 1024;

/**
 * Writes `f` (the backup's database) at `dest` from `base`: a copy of the base file (a reflink where the filesystem
 * has them, else copy_file_range), then every piece whose recorded hash differs from the base's piece at the same
 * offset decoded from the store (each checked by SHA-256 as always) and written over it, then the size cut to the
 * backup's. The whole file's SHA-256 is then computed from disk and must equal the manifest's, so a base that is not
 * what its record says (damaged, changed) cannot pass: then `dest` is removed and null returned, and the caller
 * decodes the file whole. Returns the bytes decoded from the store and the bytes taken from the base.
 */
export async function writeFromBase(
  reader: PackReader, f: FileEntryV2, dest: string, base: DatabaseBase, onBytes?: (n: number) => void,
): Promise<{ bytesDecoded: number; bytesFromBase: number } | null> {
  checkFileSizes(f);
  const baseAt = new Map<number, BlobRef>();
  let baseSize = 0;
  for (const b of base.pieces) {
    baseAt.set(baseSize, b);
    baseSize += b.size;
  }
  if ((await stat(base.file).catch(() => null))?.size !== baseSize) return null; // not the file its record describes
  const differ: { ref: BlobRef; offset: number }[] = [];
  let offset = 0;
  for (const ref of f.blobs) {
    const have = baseAt.get(offset);
    if (!have || have.sha256 !== ref.sha256 || have.size !== ref.size) differ.push({ ref, offset });
    offset += ref.size;
  }
  try {
    await copyFile(base.file, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw listedTwice(f);
    return null;
  }
  const fh = await open(dest, fsc.O_RDWR | (fsc.O_NOFOLLOW ?? 0));
  let ok = false;
  let bytesDecoded = 0;
  try {
    // Read by range and decoded a few at once (PackReader.readSparse); a store failure (missing pack, bad piece) is
    // the restore's error, as when decoding whole. A piece listed at several offsets is written at each.
    const at = new Map<string, number[]>();
    for (const d of differ) at.set(d.ref.sha256, [...(at.get(d.ref.sha256) ?? []), d.offset]);
    const unique = [...new Map(differ.map((d) => [d.ref.sha256, d.ref])).values()];
    await reader.readSparse(unique, f.path, async (ref, plain) => {
      for (const o of at.get(ref.sha256)!) {
        await fh.write(plain, 0, plain.length, o);
        bytesDecoded += plain.length;
      }
    });
    await fh.truncate(f.size);
    // Through the open descriptor (O_NOFOLLOW above), which stays open for finishStagedFile.
    ok = (await sha256Stream(fh.createReadStream({ start: 0, autoClose: false, highWaterMark: HASH_READ }))).sha256 === f.sha256;
    if (ok) await finishStagedFile(fh, f, false);
  } finally {
    await fh.close();
    if (!ok) await unlink(dest).catch(() => undefined);
  }
  if (!ok) return null;
  onBytes?.(f.size);
  return { bytesDecoded, bytesFromBase: f.size - bytesDecoded };
}

/** The backup's database being staged ahead at `file` from a base (StagingOptions.databaseAhead); `result` never rejects. */
export interface DatabaseAhead {
  file: string;
  /** The whole-file SHA-256 of the database entry being staged, so it is never taken for another entry. */
  sha256: string;
  result: Promise<{ staged: { bytesDecoded: number; bytesFromBase: number } | null } | { error: unknown }>;
}

/**
 * Starts writeFromBase for `f` at `file` now, while other work still runs (a restore starts it as soon as its
 * pre-restore backup has recorded the snapshot it took, beside the rest of that backup). Its outcome is what
 * writeFromBase's would be: null when the base could not be used (then nothing is left at `file`).
 */
export function stageDatabaseAhead(storage: Storage, f: FileEntryV2, file: string, base: DatabaseBase): DatabaseAhead {
  const reader = new PackReader(storage);
  // Closed once done: its pack descriptors would otherwise wait for a garbage collection (Node warns, and they count
  // against the process's open files meanwhile).
  const result = writeFromBase(reader, f, file, base)
    .finally(() => reader.close())
    .then((staged) => ({ staged }), (error: unknown) => ({ error }));
  return { file, sha256: f.sha256, result };
}
