// Creating a v2 backup: snapshot the database page-aligned, reuse unchanged files, pack new blobs, then write the manifest.
import { putOnce } from "../storage/put-once.ts";
import { recordInCatalogIndex } from "../catalog-index.ts";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { constants as fsc, createReadStream, createWriteStream } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { HashingPassThrough, sha256Stream } from "../archive/hashing.ts";
import type { BackupOutcome, BackupRequest } from "../backup.ts";
import { nameFullDisk } from "../disk-full.ts";
import type { Engine } from "../engine.ts";
import { BackupError, ValidationError } from "../errors.ts";
import { manifestKey } from "../ids.ts";
import { encodeManifestStreamed } from "../manifest-codec.ts";
import {
  COMPONENTS, DATABASE_ENTRY, MANIFEST_FORMAT_V2,
  type BlobRef, type ComponentName, type ComponentRecordV2, type DatabaseFacts, type FileEntryV2, type StoredManifestV2,
} from "../manifest.ts";
import { walkFiles } from "../sources/files.ts";
import { readSqliteHeader, snapshotDatabase } from "../sources/sqlite.ts";
import { workName } from "../work-dir.ts";
import { CHUNK_SIZE, DB_CHUNK_SIZE, DB_GZIP_LEVEL, GZIP_MEM_LEVEL, LOG_GZIP_LEVEL, textByName } from "./blob-codec.ts";
import { BlobStore, identify, type BlobStoreStats, type SourceIdentity } from "./blob-store.ts";
import { Lanes, mapInOrder, spreadOut } from "./bounded.ts";
import { CompressPool, type SurveyFile, type Surveyed } from "./compress-pool.ts";
import { CountingStorage } from "./counting-storage.ts";
import { PackWriter } from "./pack-writer.ts";
import { storeGuide, STORE_GUIDE_KEY } from "./store-guide.ts";
import { liveBytes } from "./live-size.ts";
import { dbReuseHooks, reuseUnchangedDatabase, takeLiveSource } from "./db-reuse.ts";
import { loadStoreIndex } from "./store-index.ts";
import { DbPatcher, previousDatabase } from "./db-delta.ts";
import { storedBlobs } from "./db-pieces.ts";
import { reportPhases, timePhase } from "./phase-clock.ts";

/**
 * Files handled at once, across the file components together: their stat, open and reads overlap (each a trip to
 * libuv's pool), so many small files cost little more than their bytes; the byte budget in BlobStore bounds memory.
 * With 8, once the database and logs were done the uploads left both cores a third idle (per-thread CPU: main 45%, each
 * compression thread 50%): each lane spends most of its time waiting on a trip to libuv's pool, and 8 did not keep the
 * threads fed. 32: first backup at scale 1 4.9-5.4 s against 5.8 s (64 and 128 no faster, 180-230 MiB), scale 4
 * 17.4 s against 21.9 s; peak RSS 10-20 MiB higher (scale 4: backup 192, churn 223, restore 231 MiB).
 */
const FILE_LANES = 32;

/**
 * The order the file components start in. Logs first: each is gzipped whole (zlib in libuv's pool) rather than in the
 * compression threads, so begun beside the uploads they fill the time those threads would wait; begun after, they were
 * a tail of seconds with the threads idle. The manifest lists components in COMPONENTS order whatever this is.
 */
const START_ORDER: readonly ComponentName[] = ["logs", "config", "uploads"];

/**
 * Logs gzipped at once, within FILE_LANES. zlib runs in libuv's pool (4 threads), the same pool every file read waits on:
 * with every lane on logs, the uploads' and the database's reads queued behind the gzips.
 */
const LOG_LANES = 2;

/** A log is read 256 KiB at a time (not a stream's 64 KiB): fewer trips through libuv's pool, which the uploads' reads share. */
const LOG_READ_BYTES = 256 * 1024;

/** Creates one v2 backup; the caller holds the store lock (runBackup, or a restore for its pre-restore backup). */
export async function createBackupV2(engine: Engine, req: BackupRequest & { rehash?: boolean }, id: string, tool: string): Promise<BackupOutcome> {
  const started = Date.now();
  const components = req.components?.length ? [...new Set(req.components)] : [...COMPONENTS];
  for (const c of components) {
    if (!COMPONENTS.includes(c)) throw new ValidationError(`create backup: unknown component "${c}"; choose from ${COMPONENTS.join(", ")}`);
  }
  // Weekly and monthly backups read everything, so a change that kept size, times and inode is caught within a week.
  const rehash = req.rehash === true || req.type === "weekly" || req.type === "monthly";
  const storage = new CountingStorage(engine.storage);
  const workDir = path.join(engine.workRoot, workName("work", id));
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const pool = new CompressPool();
  let packs: PackWriter | undefined;
  let measuring: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  try {
    packs = new PackWriter(storage);
    // The live sizes are the archive phase's total: reused files count as covered, never as read. Measured beside the
    // backup, not before it (a stat of every file, 0.2 s of a restore's pre-restore backup); until then the total is 0,
    // which progress shows as not yet known.
    req.onProgress?.({ phase: "hash", done: 0, total: 0 });
    let total = 0;
    measuring = req.onProgress ? liveBytes(engine, components).then((n) => void (total = Math.max(total, n)), () => undefined) : undefined;
    const onArchived = (done: number) => req.onProgress?.({ phase: "archive", done, total: total && (total = Math.max(total, done)) });
    // The store index (the previous manifest whole, every blob it knows) lives only in gatherAll's scope: it is garbage
    // by the time the manifest is written (scale-4 bench churn backup: that phase peaked at ~250 MiB RSS with it held and
    // the manifest text whole, ~230 now; the gathering, ~250, is the peak).
    const { records, stats, previousId } = await gatherAll(engine, req, storage, packs, pool, components, workDir, rehash, onArchived);
    // Every piece is compressed once the components are gathered: the threads end beside the packs' last uploads and
    // the manifest instead of after them (awaited in finally, so none outlives the backup).
    closing = pool.close();
    const covered = stats.bytesRead + stats.bytesReused;
    req.onProgress?.({ phase: "archive", done: covered, total: covered });
    const missing = Object.entries(records).filter(([, r]) => r.status === "missing");
    if (missing.length === components.length && req.type !== "pre-restore") {
      throw new BackupError(`create backup: every requested component is missing (${missing.map(([n, r]) => `${n}: ${r.note}`).join("; ")}); check CRM_ROOT, UPLOADS_DIR and LOGS_DIR`);
    }
    // Listed only when every referenced blob is present: new packs are verified as they go in, old ones were listed.
    // The bytes of the packs still being verified on their way in (read back, or S3's checksum) once they are.
    req.onProgress?.({ phase: "verify", done: 0, total: 0 });
    await timePhase("finish packs", () => packs!.finish());
    req.onProgress?.({ phase: "verify", done: packs.stats.bytes, total: packs.stats.bytes });
    await timePhase("store guide", () => ensureStoreGuide(storage));
    const referenced = referencedTotals(records);
    const manifest: StoredManifestV2 = {
      formatVersion: MANIFEST_FORMAT_V2, tool, id, name: `${tool}-${id}`, type: req.type, description: req.description ?? "",
      createdAt: engine.now().toISOString(), ...(req.scheduledAt ? { scheduledAt: req.scheduledAt.toISOString() } : {}),
      host: engine.host, components: records, completedAt: engine.now().toISOString(),
      stored: {
        referencedBytes: referenced.bytes, referencedBlobs: referenced.blobs,
        bytesAdded: packs.stats.bytes, blobsAdded: packs.stats.blobs, packsAdded: packs.stats.packs,
        requests: storage.requests + 1, // + the manifest's own put below
        filesRead: stats.filesRead, filesReused: stats.filesReused,
        ...(previousId ? { previousId } : {}), verifiedAt: engine.now().toISOString(),
      },
    };
    // Written once: on S3 the bucket policy refuses a manifest put without If-None-Match (infra/store-policy.ts).
    // Gzipped (core/manifest-codec.ts): every backup writes one, and it is most of what a quiet day adds to the store.
    const encoded = await timePhase("manifest encode", () => encodeManifestStreamed(manifest));
    const written = await timePhase("manifest put", () => putOnce(storage, manifestKey(id), encoded));
    await timePhase("catalog index", () => recordInCatalogIndex(storage, manifestKey(id), manifest, written));
    if (req.keepDatabaseSnapshot) await keepSnapshot(path.join(workDir, SNAPSHOT_NAME), req.keepDatabaseSnapshot);
    engine.log.info("backup succeeded", { id, type: req.type, format: "v2", ...manifest.stored });
    return { skipped: false, manifest, durationMs: Date.now() - started };
  } catch (err) {
    // Packs already written stay unreferenced until garbage collection; no manifest means nothing lists them.
    // Uploads still running end first, so a retry never races this attempt's writes.
    await packs?.settle();
    throw await nameFullDisk(err, engine.workRoot, "create backup");
  } finally {
    await measuring; // long done: only stats, but nothing of this backup runs on behind it
    await timePhase("close pool, remove work", () => Promise.all([closing ?? pool.close(), rm(workDir, { recursive: true, force: true })]));
    reportPhases();
  }
}

/**
 * Gathers every component at once: the database's snapshot and integrity_check take seconds on their own thread, and
 * the file components share FILE_LANES. The first failure cancels the store so the others stop reading, and all settle
 * before it leaves, so nothing keeps writing behind a retry; it is reported in COMPONENTS order, as before.
 * The store index and the BlobStore (which holds the index's blobs) are this function's alone: only the records and
 * the counts leave it.
 */
async function gatherAll(
  engine: Engine, req: BackupRequest, storage: CountingStorage, packs: PackWriter, pool: CompressPool, components: ComponentName[], workDir: string,
  rehash: boolean, onArchived: (done: number) => void,
): Promise<{ records: Record<string, ComponentRecordV2>; stats: BlobStoreStats; previousId?: string }> {
  const index = await timePhase("load store index", () => loadStoreIndex(storage));
  const blobs = new BlobStore(index.blobs, packs, pool, onArchived);
  const gather = async (name: ComponentName, lanes: Lanes): Promise<ComponentRecordV2> => {
    if (name === "database") req.onProgress?.({ phase: "snapshot", done: 0, total: 0 });
    // Weekly, monthly and --rehash backups read everything, the database included.
    const reused = name === "database" && !rehash ? await reuseUnchangedDatabase(engine, storage, index, blobs) : null;
    // The database's changed pieces become page patches on the previous backup's pieces where few pages changed.
    const patcher = (pageSize: number) => {
      const prev = previousDatabase(index, pageSize);
      return prev ? new DbPatcher(storage, blobs, prev, pageSize) : undefined;
    };
    return reused ?? await timePhase(`component ${name}`, () => gatherComponent(engine, name, workDir, blobs, pool, lanes, index.previous, rehash, patcher));
  };
  const lanes = new Lanes(FILE_LANES);
  const startOrder = [...components].sort((a, b) => Number(a !== "database") - Number(b !== "database") || START_ORDER.indexOf(a) - START_ORDER.indexOf(b));
  const gathered = new Map<ComponentName, ComponentRecordV2>();
  const failures = new Map<ComponentName, unknown>();
  await Promise.all(startOrder.map((name) => gather(name, lanes).then((r) => {
    gathered.set(name, r);
    req.onComponent?.(name, r, name === "database" ? path.join(workDir, SNAPSHOT_NAME) : undefined);
  }, (err: unknown) => {
    blobs.cancel(err);
    failures.set(name, err);
  })));
  for (const name of components) if (failures.has(name)) throw failures.get(name);
  const records: Record<string, ComponentRecordV2> = {};
  for (const name of components) records[name] = gathered.get(name)!;
  return { records, stats: { ...blobs.stats }, ...(index.previousId ? { previousId: index.previousId } : {}) };
}

/** The stored bytes and blobs the records reference, each blob once (two files of the same bytes share one). */
function referencedTotals(records: Record<string, ComponentRecordV2>): { bytes: number; blobs: number } {
  const referenced = new Map<string, number>();
  for (const r of Object.values(records)) for (const f of r.files) for (const b of f.blobs.flatMap(storedBlobs)) referenced.set(`${b.pack}:${b.offset}`, b.length);
  let bytes = 0;
  for (const n of referenced.values()) bytes += n;
  return { bytes, blobs: referenced.size };
}

async function gatherComponent(
  engine: Engine, name: ComponentName, workDir: string, blobs: BlobStore, pool: CompressPool, lanes: Lanes, previous: Map<string, FileEntryV2>, rehash: boolean,
  patcherFor: (pageSize: number) => DbPatcher | undefined,
): Promise<ComponentRecordV2> {
  const { paths } = engine.config;
  const files: FileEntryV2[] = [];
  let missing: string | undefined;
  let skipped: string[] = [];
  let database: ComponentRecordV2["database"];
  let liveSource: ComponentRecordV2["liveSource"];
  if (name === "database") {
    const snap = path.join(workDir, SNAPSHOT_NAME);
    // Before the snapshot starts, never after: db-reuse.ts says why that order cannot hide a write.
    liveSource = await takeLiveSource(paths.database);
    await dbReuseHooks.afterIdentity?.();
    // The online backup API keeps page positions, so page-aligned pieces of unchanged pages are unchanged blobs.
    let patcher: DbPatcher | undefined;
    let pageSize = 0;
    const [facts, { source: _source, ...entry }] = await snapshotBesideStore(
      (onCopied) => snapshotDatabase(paths.database, snap, { busyTimeoutMs: engine.config.dbBusyTimeoutMs, method: "backup-api", onCopied }),
      () => timePhase("db pieces stored", async () => {
        // The snapshot's own header gives the page size while integrity_check still runs; checked against its facts below.
        pageSize = (await readSqliteHeader(snap)).pageSize;
        patcher = patcherFor(pageSize);
        return blobs.store({ entry: DATABASE_ENTRY, file: snap, mode: 0o644 }, await identify(snap), snap, DB_CHUNK_SIZE, patcher, DB_GZIP_LEVEL).finally(() => patcher?.close());
      }));
    database = facts;
    if (patcher && facts.pageSize !== pageSize) throw new Error(`database snapshot: its header says ${pageSize}-byte pages, SQLite says ${facts.pageSize}`);
    if (patcher) engine.log.info("database pieces patched", { ...patcher.stats });
    files.push(entry as FileEntryV2);
  } else if (name === "uploads" || name === "logs") {
    const root = name === "uploads" ? paths.uploads : paths.logs;
    const walked = await walkIfDir(root, name === "logs" ? (rel) => rel.endsWith(".log") : undefined);
    if (!walked) missing = `no ${name} folder at ${root}`;
    else {
      skipped = walked.skipped;
      // Files that may not be deflated (media by name, and names that need a trial: the bench's 60 MB of PDFs, all in
      // one folder) are spread among the text ones, so the compression threads get work all along instead of idling
      // while a folder of stored-raw files is read.
      const order = name === "uploads" ? spreadOut(walked.files, (rel) => !textByName(rel)) : walked.files.map((_, i) => i);
      const prevOf = (k: number) => previous.get(`${name}/${walked.files[order[k]!]!}${name === "logs" ? ".gz" : ""}`);
      const one = (k: number, found?: Surveyed) => lanes.run(async () => {
        const rel = walked.files[order[k]!]!;
        const file = path.join(root, rel);
        // A failed stat or read on a thread is repeated here, so it fails (or not) as it always did.
        const id = found?.id ? identityOf(found.id) : await identify(file);
        const hashed = found?.shas && found.whole ? { shas: found.shas, whole: found.whole } : undefined;
        if (name === "uploads") return blobs.reuseHashedOrStore({ entry: `uploads/${rel}`, file }, id, prevOf(k), rehash, hashed);
        return storeLog(blobs, file, rel, id, workDir, prevOf(k), rehash);
      });
      const positions = order.map((_, k) => k);
      let stored: FileEntryV2[];
      if (name !== "uploads" || previous.size === 0) stored = await mapInOrder(positions, name === "logs" ? LOG_LANES : FILE_LANES, (k) => one(k));
      else {
        // Uploads that must be read although a previous record has their size (a copy of the CRM: a restore's
        // pre-restore backup; a --rehash backup) are stat'ed and hashed on the compression threads, in batches, from
        // the first files on if they are like that; an ordinary day (nearly all unchanged) starts no thread for it.
        const probe = rehash ? 0 : Math.min(SURVEY_PROBE, Math.ceil(positions.length / 8));
        const first = await mapInOrder(positions.slice(0, probe), FILE_LANES, (k) => one(k));
        // A file reused by its identity comes back as the previous record itself.
        const copies = first.filter((f, k) => f !== prevOf(k) && prevOf(k)?.size === f.size).length;
        const rest = positions.slice(probe);
        const survey = rehash || copies * 2 >= probe
          ? surveyor(pool, rest.map((k) => ({ file: path.join(root, walked.files[order[k]!]!), prev: prevOf(k)?.source ?? null, rehash, pieceSize: CHUNK_SIZE })))
          : null;
        stored = [...first, ...await mapInOrder(rest.map((k, j) => [k, j] as const), FILE_LANES, async ([k, j]) => one(k, await survey?.(j)))];
      }
      // Listed in walk order whatever order they were read in.
      const listed = new Array<FileEntryV2>(stored.length);
      order.forEach((i, k) => (listed[i] = stored[k]!));
      files.push(...listed);
    }
  } else {
    const absent: string[] = [];
    for (const file of paths.configFiles) {
      const rel = path.relative(paths.root, file).split(path.sep).join("/");
      // Secrets never leave the host in a backup, whatever the file list says.
      if (/(^|\/)\.env($|\.(?!example$))/.test(rel)) throw new BackupError(`collect config: refusing to archive ${rel}: .env files hold secrets`);
      const id = await identify(file).catch(() => null);
      if (!id || (id.mode & 0o170000) !== 0o100000) {
        absent.push(`${rel}${id ? " (not a regular file)" : ""}: not present`);
        continue;
      }
      files.push(await lanes.run(() => blobs.reuseOrStore({ entry: `config/${rel}`, file }, id, previous.get(`config/${rel}`), rehash)));
    }
    skipped = absent;
    if (files.length === 0) missing = `no config files found under ${paths.root}`;
  }
  return {
    status: missing ? "missing" : "included",
    ...(missing ? { note: missing } : skipped.length ? { note: skipped.join("; ") } : {}),
    fileCount: files.length, totalSize: files.reduce((n, f) => n + f.size, 0), files,
    ...(database ? { database } : {}), ...(liveSource ? { liveSource } : {}),
  };
}

/**
 * Takes the snapshot and stores its pieces while its integrity_check runs on the snapshot thread (reading and hashing
 * 100 MB used to wait for the check). The pieces count only if the check passes: when the snapshot fails, its error is
 * thrown once the store has settled (packs written meanwhile are unreferenced, as after any failed backup).
 */
async function snapshotBesideStore<T>(take: (onCopied: () => void) => Promise<DatabaseFacts>, store: () => Promise<T>): Promise<[DatabaseFacts, T]> {
  let onCopied!: () => void;
  const copied = new Promise<void>((resolve) => (onCopied = resolve));
  const facts = take(onCopied);
  await Promise.race([copied, facts]); // a snapshot that fails before its file is whole is thrown here, nothing read
  const [f, s] = await Promise.allSettled([facts, store()]);
  if (f.status === "rejected") throw f.reason;
  if (s.status === "rejected") throw s.reason;
  return [f.value, s.value];
}

/**
 * Logs are stored gzipped (entry logs/<rel>.log.gz, as in v1 archives); an unchanged log is not even gzipped, nor is one
 * whose identity changed but whose bytes hash to the previous record's plaintext hash (a copy, a weekly re-read).
 */
async function storeLog(blobs: BlobStore, file: string, rel: string, id: Awaited<ReturnType<typeof identify>>, workDir: string, previous: FileEntryV2 | undefined, rehash: boolean): Promise<FileEntryV2> {
  const entry = `logs/${rel}.gz`;
  if (!rehash && previous && previous.originalSize === id.size && previous.source?.mtimeNs === id.mtimeNs && previous.source.ctimeNs === id.ctimeNs && previous.source.ino === id.ino) {
    return blobs.reuseOrStore({ entry, file }, id, previous, false);
  }
  const source = { size: id.size, mtimeNs: id.mtimeNs, ctimeNs: id.ctimeNs, ino: id.ino };
  // Only the bytes present now: a log being appended to is captured up to this point.
  const live = () => (id.size === 0 ? Readable.from([]) : createReadStream(file, { start: 0, end: id.size - 1, highWaterMark: LOG_READ_BYTES }));
  if (previous?.originalSha256 && previous.originalSize === id.size) {
    const same = await timePhase("log sha256 (unchanged?)", async () => {
      const { sha256, size } = await sha256Stream(live());
      return size === id.size && sha256 === previous.originalSha256;
    });
    if (same) return blobs.reread({ ...previous, mode: id.mode & 0o777, mtime: id.mtime.toISOString(), source });
  }
  const gz = path.join(workDir, "logs", `${rel}.gz`);
  await mkdir(path.dirname(gz), { recursive: true });
  const hashed = new HashingPassThrough();
  await timePhase("log gzip (main, zlib pool)", () => pipeline(live(), hashed, createGzip({ level: LOG_GZIP_LEVEL, memLevel: GZIP_MEM_LEVEL }), createWriteStream(gz)));
  const gzId = await identify(gz);
  const stored = await blobs.store({ entry, file, originalSize: id.size }, { ...gzId, mode: id.mode, mtime: id.mtime }, gz);
  // The identity recorded is the live .log's, so the next backup can recognise it unchanged.
  return { ...stored, source, originalSha256: hashed.digest() };
}

/** Files surveyed per message to a compression thread: one round trip per batch instead of several per file. */
const SURVEY_BATCH = 32;
/** At most this many uploads (an eighth of them) are read as before, first, to tell a copy of the CRM (then surveyed) from an ordinary day (no thread). */
const SURVEY_PROBE = 32;

/**
 * The survey of the k-th file, asked for in batches in the order the files are stored, the next batch already on its
 * way while one is used, so a reader rarely waits on a thread.
 */
function surveyor(pool: CompressPool, files: SurveyFile[]): (k: number) => Promise<Surveyed> {
  const batches = new Map<number, Promise<Surveyed[]>>();
  const batch = (b: number) => {
    let p = batches.get(b);
    if (!p && b * SURVEY_BATCH < files.length) {
      p = pool.survey(files.slice(b * SURVEY_BATCH, (b + 1) * SURVEY_BATCH));
      p.catch(() => undefined); // handled where it is awaited
      batches.set(b, p);
    }
    return p;
  };
  return async (k) => {
    const b = Math.floor(k / SURVEY_BATCH);
    const mine = batch(b)!;
    batch(b + 1); // one for each compression thread
    batch(b + 2);
    return (await mine)[k - b * SURVEY_BATCH]!;
  };
}

const identityOf = (s: NonNullable<Surveyed["id"]>): SourceIdentity => ({
  size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, ino: s.ino, mode: s.mode, mtime: new Date(s.mtimeMs),
});

const SNAPSHOT_NAME = "dev.db";

/** BackupRequest.keepDatabaseSnapshot: the snapshot (if one was taken) moved out of the work folder before it is deleted. */
async function keepSnapshot(snap: string, dest: string): Promise<void> {
  try {
    await rename(snap, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return; // the database was reused or not backed up: no snapshot
    if (code !== "EXDEV") throw err;
    await copyFile(snap, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
  }
}

async function walkIfDir(root: string, accept?: (rel: string) => boolean) {
  try {
    return await walkFiles(root, accept);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw err;
  }
}

async function ensureStoreGuide(storage: CountingStorage): Promise<void> {
  const text = storeGuide();
  const have = await storage.stat(STORE_GUIDE_KEY);
  if (have?.size !== Buffer.byteLength(text)) await storage.put(STORE_GUIDE_KEY, text);
}
