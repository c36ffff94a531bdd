// Verifying a v2 backup: every referenced piece read and hashed (or, quick, present with the right size), database checked.
import { constants as fsc } from "node:fs";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import path from "node:path";
import { checkManifestRules } from "../component-rules.ts";
import type { Engine, Progress } from "../engine.ts";
import { BackupError, ChecksumMismatchError, errorMessage } from "../errors.ts";
import { DATABASE_ENTRY, type ComponentRecordV2, type FileEntryV2, type StoredManifestV2 } from "../manifest.ts";
import type { ComponentCheck, VerifyReport } from "../verify.ts";
import { workName } from "../work-dir.ts";
import { sha256Hex } from "./blob-codec.ts";
import { mapInOrder } from "./bounded.ts";
import { checkDatabaseFile } from "./integrity-thread.ts";
import { reportPhases, timePhase } from "./phase-clock.ts";
import { PackFiles } from "./pack-files.ts";
import { PackReader, checkFileSizes, checkPieceBounds, listedTwice, stagedPath } from "./reader.ts";
import { VerifyPool } from "./verify-pool.ts";
import { baseOf, decodeDbPiece, isPatched, storedBlobs } from "./db-pieces.ts";

/**
 * Files checked at once: each waits on its pack and on the byte budget in turn, so a few keep every thread fed. Measured
 * at bench scale 1: 4 lanes and a 12 MiB pack cache peaked ~20 MiB lower than 8 and 24 MiB, for the same CPU time.
 */
const FILE_LANES = 4;
/**
 * Whole packs kept for the files in flight, on a store without files (S3): they read packs nearly in the order the
 * backup wrote them. On the fs store the threads read each piece in place (pack-files.ts) and nothing is cached.
 */
const PACK_CACHE_BYTES = 12 * 1024 * 1024;

export async function verifyBackupV2(engine: Engine, manifest: StoredManifestV2, opts: { quick?: boolean; onProgress?: (p: Progress) => void } = {}): Promise<VerifyReport> {
  const total = manifest.stored.referencedBytes;
  const report: VerifyReport = {
    id: manifest.id, ok: false,
    // No single archive: the figure is the stored bytes the backup references.
    archive: { sha256: "", expectedSha256: "", sizeBytes: total, ok: false },
    components: Object.fromEntries(Object.entries(manifest.components).map(([n, c]) => [n, {
      status: c.status === "missing" ? "missing" : "not-checked", files: c.fileCount, bytes: c.totalSize, ...(c.note ? { detail: c.note } : {}),
    } satisfies ComponentCheck])),
    checkedAt: engine.now().toISOString(),
  };
  const work = await mkdtemp(path.join(engine.workRoot, workName("verify", "")));
  const pool = opts.quick ? null : new VerifyPool();
  let files: PackFiles | null = null;
  const reader = new PackReader(engine.storage, PACK_CACHE_BYTES);
  try {
    checkManifestRules(manifest);
    const packSizes = opts.quick ? new Map((await engine.storage.list("data/packs/")).map((o) => [o.key, o.size])) : null;
    files = opts.quick ? null : PackFiles.of(engine.storage);
    let done = 0;
    const onBytes = (n: number) => opts.onProgress?.({ phase: "verify", done: (done += n), total });
    let unexpected: { err: unknown } | undefined;
    // The database goes side by side with the rest (its integrity_check runs on its own thread while uploads decode);
    // the other components one after another, so the packs being read at once stay few.
    const included = Object.entries(manifest.components).filter(([, c]) => c.status === "included");
    const checkComponent = async ([name, c]: (typeof included)[number]) => {
      const check = report.components[name]!;
      try {
        if (packSizes) {
          checkPresence(c, packSizes);
          Object.assign(check, { status: "ok", detail: "quick: every piece present with its size; contents not read" });
          return;
        }
        if (name === "database") check.detail = await timePhase("component database", () => checkDatabase(reader, files, pool!, c, work, onBytes));
        else await timePhase(`component ${name}`, () => mapInOrder(c.files, FILE_LANES, (f) => checkFile(reader, files, pool!, f, onBytes)));
        check.status = "ok";
      } catch (err) {
        Object.assign(check, { status: "failed", detail: errorMessage(err) });
        report.error ??= errorMessage(err);
        if (!(err instanceof BackupError)) unexpected ??= { err };
      }
    };
    const others = async () => {
      for (const entry of included) if (entry[0] !== "database") await checkComponent(entry);
    };
    await Promise.all([...included.filter(([name]) => name === "database").map(checkComponent), others()]);
    if (unexpected) throw unexpected.err;
  } catch (err) {
    report.error = errorMessage(err);
    if (!(err instanceof BackupError)) throw err;
  } finally {
    await timePhase("close pool", () => pool?.close());
    await files?.close();
    await reader.close();
    await timePhase("rm work", () => rm(work, { recursive: true, force: true }));
    reportPhases();
  }
  report.archive.ok = report.error === undefined;
  report.ok = report.archive.ok && Object.values(report.components).every((c) => c.status === "ok" || c.status === "missing");
  return report;
}

function checkPresence(c: ComponentRecordV2, packSizes: Map<string, number>): void {
  for (const f of c.files) for (const b of f.blobs.flatMap(storedBlobs)) {
    const have = packSizes.get(b.pack);
    if (have === undefined) throw new BackupError(`check backup file ${f.path}: pack ${b.pack} is missing from the store`);
    if (have < b.offset + b.length) throw new BackupError(`check backup file ${f.path}: pack ${b.pack} has ${have} bytes, the piece needs ${b.offset + b.length}`);
  }
}

/** The database's files written out (checked on the verify threads as they go), then integrity_check off the main thread. */
async function checkDatabase(reader: PackReader, files: PackFiles | null, pool: VerifyPool, c: ComponentRecordV2, work: string, onBytes: (n: number) => void): Promise<string> {
  for (const f of c.files) {
    const dest = stagedPath(work, "database", f);
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
    // O_EXCL + O_NOFOLLOW, as every reader: a name listed twice is refused, no link followed.
    const fh = await open(dest, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0), 0o600).catch((err) => {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw listedTwice(f);
      throw err;
    });
    try {
      await checkFile(reader, files, pool, f, onBytes, fh.fd);
    } finally {
      await fh.close();
    }
  }
  const facts = await timePhase("integrity_check", () => checkDatabaseFile(path.join(work, DATABASE_ENTRY)));
  if (facts.integrityCheck !== "ok") throw new BackupError(`check backup file ${DATABASE_ENTRY}: integrity_check: ${facts.integrityCheck}`);
  return `integrity_check ok; ${facts.tables} tables, ${facts.pageCount} pages`;
}

/**
 * Every piece of `f` read from its pack and checked on one verify thread (which also hashes the whole file); with `fd`,
 * its plaintext is written there. Pieces already sent settle before an error leaves, so nothing runs behind the caller.
 */
export async function checkFile(reader: PackReader, files: PackFiles | null, pool: VerifyPool, f: FileEntryV2, onBytes: (n: number) => void, fd?: number): Promise<void> {
  checkFileSizes(f);
  const n = f.blobs.length;
  if (n === 0) return sameFileSha(f, sha256Hex(Buffer.alloc(0)));
  // A file of one piece whose hash is the file's is checked whole with that piece.
  const file = n === 1 && f.blobs[0]!.sha256 === f.sha256 ? undefined : pool.fileKey();
  // The database's file gets a thread of its own: its integrity_check waits for its last piece.
  const lane = pool.pick(fd !== undefined);
  const done: Promise<string | undefined>[] = [];
  let failure: { err: unknown } | undefined;
  try {
    let at = 0;
    for (let i = 0; i < n; i++) {
      const recorded = f.blobs[i]!;
      // A patched database piece is assembled and checked here (its base and bundles each by their hash, the piece by
      // its own); the thread then hashes it into the file and writes it, as a raw piece.
      const assembled = isPatched(recorded) ? await decodeDbPiece(reader, recorded, f.path) : null;
      const ref = assembled ? { ...baseOf(recorded), sha256: recorded.sha256, encoding: "raw" as const, length: assembled.length } : recorded;
      const task = { ref, where: f.path, file, last: i === n - 1, fd, at: fd === undefined ? undefined : at };
      at += ref.size;
      if (files && !assembled) {
        // Read in place by the thread: the pack stays open until the piece is checked.
        checkPieceBounds(ref, f.path);
        const packFd = await files.acquire(ref.pack);
        const sent = await pool.send(lane, { ...task, packFd }).catch((err) => {
          files.release(ref.pack);
          throw err;
        });
        done.push(sent.done.finally(() => files.release(ref.pack)).then((sha) => (onBytes(ref.size), sha)));
        continue;
      }
      const stored = assembled ?? await reader.readStored(ref, f.path);
      if (stored.length !== ref.length) {
        throw new ChecksumMismatchError(`read blob ${ref.sha256.slice(0, 12)} of ${f.path}: ${ref.pack} holds ${stored.length} bytes at ${ref.offset}, expected ${ref.length}; the store is damaged, pick another backup`);
      }
      const sent = await pool.send(lane, { ...task, stored });
      done.push(sent.done.then((sha) => (onBytes(ref.size), sha)));
    }
  } catch (err) {
    failure = { err };
  }
  const settled = await Promise.allSettled(done);
  if (fd !== undefined) pool.unkeep(lane);
  if (failure) throw failure.err;
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  if (file !== undefined) sameFileSha(f, (settled[n - 1] as PromiseFulfilledResult<string | undefined>).value ?? "");
}

function sameFileSha(f: FileEntryV2, sha: string): void {
  if (sha !== f.sha256) throw new ChecksumMismatchError(`check backup file ${f.path}: its content has SHA-256 ${sha}, the manifest records ${f.sha256}; the backup is damaged, pick another`);
}
