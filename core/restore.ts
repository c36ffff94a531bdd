// Restoring chosen components: confirm, back up what is live, verify and stage the archive, swap all or nothing, audit.
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extractArchive } from "./archive/extract.ts";
import { checkManifestRules, entryProblem } from "./component-rules.ts";
import { nameFullDisk } from "./disk-full.ts";
import { createBackup } from "./backup.ts";
import { appendAudit, readManifest } from "./catalog.ts";
import type { Engine, Progress } from "./engine.ts";
import { ConflictError, DatabaseError, RestoreError, ValidationError, errorMessage } from "./errors.ts";
import { LOCK_KEY, archiveKey } from "./ids.ts";
import { LOCK_HOST, RESTORE_LEASE, acquireLock } from "./lock.ts";
import { assertManifestMatches } from "./manifest-match.ts";
import { COMPONENTS, DATABASE_ENTRY, type ComponentName, type ComponentRecordV2, type StoredManifest } from "./manifest.ts";
import { inspectSnapshot } from "./sources/sqlite.ts";
import { journalPath, restoreRoot, writeJournal, type Journal, type SwapStep } from "./restore-journal.ts";
import { recoverUnderLock, rollBack, rollForward, type Recovery } from "./restore-recovery.ts";
import { matchRestoredOwnership } from "./restore-ownership.ts";
import { checkRestoreSpace } from "./restore-space.ts";
import { applyStep, planDatabaseStep, planPathStep } from "./restore-swap.ts";
import { restoreTimer, type PhaseTimer } from "./restore-timing.ts";
import { keptSnapshot, rollbackFromSnapshot, startRollbackCopy } from "./restore-rollback-copy.ts";
import { sameLiveSource, takeLiveSource } from "./v2/db-reuse.ts";
import { stageDatabaseAhead, type DatabaseAhead, type DatabaseBase } from "./v2/restore-db-base.ts";
import { stageV2Components, type KeptFiles, type StagingStats } from "./v2/restore-staging.ts";
import { listLiveExtras, planInPlace, syncStepFolders } from "./restore-in-place.ts";
import { chooseFiles, includedEntries } from "./browse.ts";
import { collectNow } from "./v2/thread-gc.ts";

export const CONFIRM_TOKEN = "CONFIRM_RESTORE";

export interface RestoreRequest {
  backupId: string;
  components: readonly string[];
  confirm: string;
  actor?: string;
  /** The job this restore runs for, so that recovery after a crash can mark the job as ended. */
  jobId?: string;
  onProgress?: (p: Progress) => void;
  /** Told when an earlier, interrupted restore was rolled back or finished before this one started. */
  onRecovered?: (r: Recovery) => void;
  /** Only these files or folders (paths as `colab-backup ls` prints them); other live files stay as they are. */
  include?: readonly string[];
}

export interface RestoreOutcome {
  backupId: string;
  components: ComponentName[];
  preRestoreBackupId: string;
  durationMs: number;
  /** v2 backups: how many files were decoded from the store and how many copied from live files that already held them. */
  staged?: StagingStats;
}

export function checkRestoreRequest(req: Pick<RestoreRequest, "components" | "confirm">): ComponentName[] {
  if (req.confirm !== CONFIRM_TOKEN) {
    throw new ValidationError(`restore: a restore replaces live data; confirm it with the exact token ${CONFIRM_TOKEN}`);
  }
  if (req.components.length === 0) throw new ValidationError(`restore: choose at least one component from ${COMPONENTS.join(", ")}`);
  for (const c of req.components) {
    if (!(COMPONENTS as readonly string[]).includes(c)) throw new ValidationError(`restore: unknown component "${c}"; choose from ${COMPONENTS.join(", ")}`);
  }
  return [...new Set(req.components)] as ComponentName[];
}

/** A restore may only ask for components the backup holds. */
export function checkComponentsIncluded(manifest: Pick<StoredManifest, "id" | "components">, components: readonly string[]): void {
  for (const c of components) {
    const rec = manifest.components[c];
    if (!rec || rec.status !== "included") {
      throw new ValidationError(`restore: backup ${manifest.id} has no ${c} component${rec?.note ? ` (${rec.note})` : ""}; choose other components`);
    }
  }
}

export async function runRestore(engine: Engine, req: RestoreRequest): Promise<RestoreOutcome> {
  let components = checkRestoreRequest(req);
  const actor = req.actor ?? "cli";
  // The short lease, beaten from a thread: a restore whose process dies is rolled back minutes later, never while it lives.
  const lock = await acquireLock(engine.storage, LOCK_KEY, { id: `restore-${req.backupId}`, operation: "restore" }, { thread: { config: engine.config, ...RESTORE_LEASE } });
  let preRestoreBackupId: string | undefined;
  let staged: StagingStats | undefined;
  const began = Date.now();
  const timer = restoreTimer();
  try {
    const recovered = await recoverUnderLock(engine);
    if (recovered) req.onRecovered?.(recovered);
    const manifest = await readManifest(engine.storage, req.backupId);
    checkComponentsIncluded(manifest, components);
    checkManifestRules(manifest);
    // --include: the same restore over a manifest cut down to the chosen files (see chooseFiles).
    let chosen: StoredManifest = manifest;
    if (req.include) ({ manifest: chosen, components } = chooseFiles(manifest, components, req.include));
    const started = Date.now();
    const journal = await startJournal(engine, manifest.id, components, actor, req.jobId);
    let ahead: DatabaseAhead | undefined;
    timer.mark("lock, recovery check, manifest, journal");
    try {
      const { onProgress } = req;
      onProgress?.({ phase: "pre-restore", done: 0, total: 0 });
      const live = COMPONENTS.filter((c) => c !== "database" || existsSync(engine.config.paths.database));
      // The pre-restore backup is often the longest phase: pass on its progress, labelled as this restore's.
      const nested = onProgress && ((p: Progress) => onProgress({ ...p, phase: "pre-restore", step: p.phase }));
      // Its database snapshot is kept in the staging folder: the rollback copy and the staged database's base (below).
      const keepDatabaseSnapshot = components.includes("database") ? keptSnapshotPath(journal) : undefined;
      const onComponent = databaseAheadStarter(engine, chosen, components, journal, (a) => (ahead = a));
      const pre = await createBackup(engine, { type: "pre-restore", description: `before restoring ${components.join(", ")} from ${manifest.id}`, components: live, onProgress: nested, keepDatabaseSnapshot, onComponent });
      if (pre.skipped) throw new Error("pre-restore backup was skipped");
      preRestoreBackupId = journal.preRestoreBackupId = pre.manifest.id;
      // The backup's garbage (the store index's manifests, its records' first copies) is dead now: a full collection
      // before staging lets the heap shrink instead of holding it under staging's buffers (scale 4: ~30 MiB lower peak).
      collectNow();
      timer.mark("pre-restore backup");
      staged = await applyRestore(engine, journal, manifest, components, req.onProgress, chosen, timer, pre.manifest, ahead);
    } catch (caught) {
      await ahead?.result; // settled before the staging folder it writes in is removed
      const err = await nameFullDisk(caught, restoreRoot(engine.config), `restore ${manifest.id}`);
      // Nothing swapped yet (staging) or a failed swap: put back whatever the journal says was begun.
      if (journal.phase === "committing") throw err;
      try {
        await rollBack(engine, journal);
      } catch (undoErr) {
        throw new RestoreError(`restore ${manifest.id}: ${errorMessage(err)}; ROLLBACK INCOMPLETE: ${errorMessage(undoErr)}`, false, { cause: err });
      }
      if (journal.begun.length === 0 || err instanceof RestoreError) throw namingBackup(err, manifest.id);
      throw new RestoreError(`restore ${manifest.id}: ${errorMessage(err)}; rolled back ${journal.begun.join(", ")}`, true, { cause: err });
    }
    const outcome = { backupId: manifest.id, components, preRestoreBackupId: preRestoreBackupId!, durationMs: Date.now() - started, ...(staged ? { staged } : {}) };
    await appendAudit(engine.storage, { actor, action: "restore", backupId: manifest.id, components, result: "succeeded", detail: { preRestoreBackupId, durationMs: outcome.durationMs, ...(req.include ? { include: req.include } : {}) } }, engine.now());
    engine.log.info("restore succeeded", { ...outcome });
    return outcome;
  } catch (err) {
    const result = err instanceof RestoreError && err.rolledBack ? "rolled-back" : "failed";
    await appendAudit(engine.storage, { actor, action: "restore", backupId: req.backupId, components, result, error: errorMessage(err), detail: { preRestoreBackupId, durationMs: Date.now() - began, ...(req.include ? { include: req.include } : {}) } }, engine.now()).catch(() => undefined);
    throw err;
  } finally {
    await lock.release();
  }
}

/** Writes the journal (phase staging) and creates its private staging folder, before anything else is touched. */
async function startJournal(engine: Engine, backupId: string, components: ComponentName[], actor: string, jobId?: string): Promise<Journal> {
  const root = restoreRoot(engine.config);
  await mkdir(root, { recursive: true });
  const id = randomBytes(4).toString("hex");
  const journal: Journal = {
    version: 1, id, backupId, components, actor, ...(jobId ? { jobId } : {}),
    startedAt: engine.now().toISOString(), pid: process.pid, host: LOCK_HOST,
    staging: path.join(root, `.colab-restore-${id}`), phase: "staging", begun: [], steps: [],
  };
  await writeJournal(journalPath(engine.config), journal);
  await mkdir(journal.staging, { mode: 0o700 });
  return journal;
}

/**
 * The pre-restore backup's onComponent: once it has recorded its database snapshot (integrity_check passed), the
 * backup's database starts being staged from it (restore-db-base.ts), beside the rest of that backup (hashing the
 * uploads) instead of after it. Only into the private staging folder; the swap still waits for everything.
 */
function databaseAheadStarter(engine: Engine, chosen: StoredManifest, components: ComponentName[], journal: Journal, started: (a: DatabaseAhead) => void) {
  const wanted = chosen.formatVersion === 2 && components.includes("database") ? chosen.components.database?.files : undefined;
  if (wanted?.length !== 1 || wanted[0]!.path !== DATABASE_ENTRY) return undefined;
  let once = false;
  return (name: ComponentName, record: ComponentRecordV2, snapshot?: string) => {
    const entry = record.status === "included" && record.files.length === 1 ? record.files[0] : undefined;
    if (once || name !== "database" || !snapshot || entry?.path !== DATABASE_ENTRY) return;
    once = true;
    started(stageDatabaseAhead(engine.storage, wanted[0]!, path.join(journal.staging, "database-ahead.db"), { file: snapshot, pieces: entry.blobs }));
  };
}

async function applyRestore(engine: Engine, journal: Journal, full: StoredManifest, components: ComponentName[], onProgress?: (p: Progress) => void, manifest = full, timer?: PhaseTimer, pre?: StoredManifest, ahead?: DatabaseAhead): Promise<StagingStats | undefined> {
  const partial = manifest !== full;
  const { paths } = engine.config;
  const file = journalPath(engine.config);
  await writeJournal(file, journal); // names the pre-restore backup
  const stagedFiles = path.join(journal.staging, "files");
  let staged: StagingStats | undefined;
  // v2: live files that already are the backup's stay in place, untouched; the rest is swapped in file by file.
  const keep: KeptFiles | undefined = manifest.formatVersion === 2 ? { entries: new Set() } : undefined;
  await checkRestoreSpace(manifest, components, { dir: path.dirname(journal.staging), liveDatabase: paths.database });
  // The pre-restore backup's snapshot of the live database, when it took one: the base the staged database is patched
  // from (only the pieces that differ are decoded), and the rollback copy when the live database has not changed since.
  // (A v1 backup's restore uses it as the rollback copy only: its database comes whole out of the archive.)
  const snapshot = components.includes("database") ? keptSnapshot(keptSnapshotPath(journal), pre) : null;
  const liveNow = snapshot && existsSync(paths.database) ? await takeLiveSource(paths.database).catch(() => undefined) : undefined;
  // Else the live database's rollback copy is taken on a worker thread while staging runs; planning keeps either only if
  // the live database has not changed since (else it takes its own, as it always did).
  const snapshotIsRollback = !!(snapshot?.before && liveNow && sameLiveSource(liveNow, snapshot.before));
  const early = !components.includes("database") || !existsSync(paths.database) ? undefined
    : snapshotIsRollback ? rollbackFromSnapshot(snapshot!.base.file, snapshot!.before!, paths.database, rollbackPath(journal))
    : startRollbackCopy(paths.database, rollbackPath(journal), engine.config.dbBusyTimeoutMs);
  // The live uploads entries the backup lacks (moved aside by the plan) are listed beside staging: it only reads the
  // live tree, and staging mostly waits on its database copy and the disk.
  const extras = components.includes("uploads") && keep && !partial ? listLiveExtras(paths.uploads, uploadsPaths(manifest)) : undefined;
  extras?.catch(() => undefined); // awaited by the plan; a staging failure leaves it unawaited
  try {
    staged = await stageAll(engine, manifest, full, components, stagedFiles, journal, partial, keep, onProgress, timer, snapshot?.base, pre, ahead);
  } catch (err) {
    await early?.discard();
    throw err;
  } finally {
    // Used as the base; kept on only as the rollback copy (rollbackFromSnapshot moves it).
    if (snapshot && !snapshotIsRollback) await rm(snapshot.base.file, { force: true });
  }
  const rollbackReady = (await early?.use()) ?? false;
  timer?.mark(`rollback copy of the live database (${rollbackReady ? "taken beside staging" : "not usable"})`);
  // Live folders it creates for restored files are journaled first: undoing the restore removes them while empty.
  const ownership = await matchRestoredOwnership(stagedFiles, components, paths, partial || !!keep, async (folders) => {
    journal.madeFolders = [...(journal.madeFolders ?? []), ...folders];
    await writeJournal(file, journal);
  });
  timer?.mark("ownership");

  // Plan every swap (and snapshot the live database for undo unless done above), then make the plan durable before the first change.
  const order = COMPONENTS.filter((c) => components.includes(c)).reverse(); // logs, config, uploads, database
  for (const component of order) journal.steps.push(...(await planComponent(engine, manifest, component, stagedFiles, journal, partial, keep, rollbackReady, extras)));
  // One durable write makes the plan the one to follow and begins every component: undoing a step that never ran is a
  // no-op (undoStep judges by the disk; the database's rollback copy equals the live database, checked at planning),
  // so nothing needs a write of its own before its first change.
  journal.phase = "swapping";
  journal.begun = [...order];
  await writeJournal(file, journal);
  timer?.mark("plan (database rollback snapshot)");

  const pause = testPause();
  let swapped = 0;
  const swap = async (component: ComponentName) => {
    await pause?.();
    const changed = { value: false };
    try {
      for (const step of journal.steps.filter((s) => s.component === component)) await applyStep(step, engine.config.dbBusyTimeoutMs, pause, changed);
    } catch (err) {
      // A component whose first step failed before touching anything needs no undo (and the undo could fail the same way).
      if (!changed.value) journal.begun = journal.begun.filter((c) => c !== component);
      throw err;
    }
    timer?.mark(`swap ${component}`);
    onProgress?.({ phase: "swap", done: ++swapped, total: order.length });
  };
  onProgress?.({ phase: "swap", done: 0, total: order.length });
  // The files' renames first (as before: a failure there never starts the database copy), then SQLite's page copy,
  // which holds this thread until done, beside the fsyncs of the folders the renames changed (on libuv's threads).
  for (const component of order) if (component !== "database") await swap(component);
  const folders = syncStepFolders(journal.steps.filter((s) => s.kind === "path")).then(() => timer?.mark("fsync swapped folders"));
  const database = order.includes("database") ? swap("database").then(() => ownership.afterSwap()) : undefined;
  // Both settle before anything else happens: a rollback must not run under a step still applying.
  const [foldersDone, databaseDone] = await Promise.allSettled([folders, database]);
  if (databaseDone.status === "rejected") throw databaseDone.reason;
  if (foldersDone.status === "rejected") throw foldersDone.reason;
  // A kept file written during the restore would leave live data that is not the backup's: undo all, say which.
  const moved = await keep?.recheck?.();
  if (moved) throw new ConflictError(`restore ${manifest.id}: ${moved} changed while the restore ran; stop what writes to the CRM's files and restore again`);
  timer?.mark("recheck kept files");
  journal.phase = "committing";
  await writeJournal(file, journal);
  await rollForward(engine, journal).catch((e) => engine.log.warn("restore: could not remove the copies kept for undo; the next command will", { error: errorMessage(e) }));
  timer?.mark("roll forward (delete old data)");
  onProgress?.({ phase: "swap", done: order.length, total: order.length });
  return staged;
}

/** Stages the chosen components into `stagedFiles`, checks the staged database and gunzips the logs. */
async function stageAll(engine: Engine, manifest: StoredManifest, full: StoredManifest, components: ComponentName[], stagedFiles: string, journal: Journal, partial: boolean, keep: KeptFiles | undefined, onProgress?: (p: Progress) => void, timer?: PhaseTimer, databaseBase?: DatabaseBase, pre?: StoredManifest, databaseAhead?: DatabaseAhead): Promise<StagingStats | undefined> {
  const { paths } = engine.config;
  let staged: StagingStats | undefined;
  const plainLogs = new Set<string>();
  if (manifest.formatVersion === 2) {
    // Every piece and file is checked by size and SHA-256 as it is written; names pass the same component rules.
    // Live files that already are the backup's (per the pre-restore backup just taken) are not staged at all; others it holds are copied.
    staged = await stageV2Components(engine.storage, manifest, components, stagedFiles, onProgress, { live: paths, preRestoreId: journal.preRestoreBackupId, pre, keep, databaseBase, databaseAhead, plainLogs, syncDatabase: false });
  } else {
    const prefixes = components.map((c) => (c === "database" ? DATABASE_ENTRY : `${c}/`));
    const total = manifest.archive.sizeBytes;
    const result = await extractArchive(await engine.storage.get(archiveKey(manifest.id)), {
      stagingDir: stagedFiles,
      select: partial ? includedEntries(manifest, components) : (p) => prefixes.some((pre) => p === pre || (pre.endsWith("/") && p.startsWith(pre))),
      allowEntry: entryProblem,
      onProgress: (done) => onProgress?.({ phase: "extract", done, total }),
    });
    assertManifestMatches(full as typeof manifest, result, "restore");
  }
  timer?.mark("stage");
  // v2: the staged database is the backup's own bytes (every piece checked by SHA-256 as written), and the backup recorded
  // that these very bytes passed integrity_check when it was taken: checking them again would re-read the whole database.
  const checkedAtBackup = manifest.formatVersion === 2 && manifest.components.database?.database?.integrityCheck === "ok";
  if (components.includes("database") && !checkedAtBackup) {
    const facts = inspectSnapshot(path.join(stagedFiles, DATABASE_ENTRY), paths.database);
    if (facts.integrityCheck !== "ok") throw new DatabaseError(`restore ${manifest.id}: the database snapshot fails integrity_check (${facts.integrityCheck})`);
  }
  timer?.mark("database integrity_check");
  if (components.includes("logs")) await gunzipLogs(path.join(stagedFiles, "logs"), manifest, plainLogs);
  timer?.mark("gunzip logs");
  return staged;
}

/** The backup's uploads as paths under the uploads folder. */
const uploadsPaths = (manifest: StoredManifest) => (manifest.components.uploads?.files ?? []).map((f) => f.path.slice("uploads/".length));
const rollbackPath = (journal: Journal) => path.join(journal.staging, "rollback.db");
/** Where the pre-restore backup leaves its database snapshot (BackupRequest.keepDatabaseSnapshot). */
const keptSnapshotPath = (journal: Journal) => path.join(journal.staging, "pre-restore.db");

async function planComponent(engine: Engine, manifest: StoredManifest, component: ComponentName, staged: string, journal: Journal, partial: boolean, keep?: KeptFiles, rollbackReady = false, extras?: Promise<string[]>): Promise<SwapStep[]> {
  const { paths } = engine.config;
  if (component === "database") {
    return [await planDatabaseStep(path.join(staged, DATABASE_ENTRY), paths.database, rollbackPath(journal), engine.config.dbBusyTimeoutMs, rollbackReady)];
  }
  if (component === "uploads" && keep && !partial) {
    // The folder ends up holding exactly the backup's files; only those that differ, and live extras, are moved.
    const wanted = new Map<string, string | null>();
    for (const f of manifest.components.uploads!.files) wanted.set(f.path.slice("uploads/".length), keep.entries.has(f.path) ? null : path.join(staged, f.path));
    return planInPlace(component, paths.uploads, wanted, journal.id, extras);
  }
  if (component === "uploads" && !partial) return [await planPathStep(component, path.join(staged, "uploads"), paths.uploads, journal.id)];
  // Config and logs (and uploads under --include) go file by file: live files that the backup does not hold are left alone.
  // Entries are "config/<rel>", "uploads/<rel>" and "logs/<rel>.log.gz"; logs were gunzipped in staging.
  const root = component === "logs" ? paths.logs : component === "uploads" ? paths.uploads : paths.root;
  const steps: SwapStep[] = [];
  for (const f of manifest.components[component]!.files) {
    if (keep?.entries.has(f.path)) continue; // already the backup's file: left untouched
    const rel = f.path.slice(component.length + 1).replace(component === "logs" ? /\.gz$/ : /$^/, "");
    steps.push(await planPathStep(component, path.join(staged, component, rel), path.join(root, rel), journal.id));
  }
  return steps;
}

/**
 * A failure from staging (a damaged piece, a bad name, a full disk) is thrown as it is, keeping its class and code, but
 * its message names the backup: "read blob ... of database/dev.db: ... pick another backup" alone does not say which.
 */
function namingBackup(err: unknown, backupId: string): unknown {
  if (err instanceof Error && !err.message.includes(backupId)) err.message = `restore ${backupId}: ${err.message}`;
  return err;
}

/** Tests only: COLAB_TEST_SWAP_DELAY_MS widens the swap so that a kill -9 can land inside it. */
function testPause(): (() => Promise<void>) | undefined {
  const ms = Number(process.env.COLAB_TEST_SWAP_DELAY_MS ?? 0);
  return ms > 0 ? () => new Promise((r) => setTimeout(r, ms)) : undefined;
}

/** `plain`: entries staged as the plain .log already (copied from an equal live log), left as they are. */
export async function gunzipLogs(dir: string, manifest: StoredManifest, plain?: ReadonlySet<string>) {
  for (const f of manifest.components.logs?.files ?? []) {
    if (plain?.has(f.path)) continue;
    const gz = path.join(dir, "..", f.path);
    await pipeline(createReadStream(gz), createGunzip(), createWriteStream(gz.replace(/\.gz$/, ""), { mode: f.mode }));
    await rm(gz);
  }
}
