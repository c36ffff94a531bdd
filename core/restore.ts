// Restoring chosen components: confirm, back up what is live, verify and stage the archive, swap all or nothing, audit.
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extractArchive } from "./archive/extract.ts";
import { createBackup } from "./backup.ts";
import { appendAudit, readManifest } from "./catalog.ts";
import type { Engine, Progress } from "./engine.ts";
import { ChecksumMismatchError, DatabaseError, RestoreError, ValidationError, errorMessage } from "./errors.ts";
import { LOCK_KEY, archiveKey } from "./ids.ts";
import { acquireLock } from "./lock.ts";
import { COMPONENTS, DATABASE_ENTRY, type ComponentName, type StoredManifest } from "./manifest.ts";
import { inspectSnapshot } from "./sources/sqlite.ts";
import { swapDatabase, swapPath, type Swap } from "./restore-swap.ts";

export const CONFIRM_TOKEN = "CONFIRM_RESTORE";

export interface RestoreRequest {
  backupId: string;
  components: readonly string[];
  confirm: string;
  actor?: string;
  onProgress?: (p: Progress) => void;
}

export interface RestoreOutcome {
  backupId: string;
  components: ComponentName[];
  preRestoreBackupId: string;
  durationMs: number;
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
  const components = checkRestoreRequest(req);
  const actor = req.actor ?? "cli";
  const lock = await acquireLock(engine.storage, LOCK_KEY, { id: `restore-${req.backupId}`, operation: "restore" });
  let preRestoreBackupId: string | undefined;
  try {
    const manifest = await readManifest(engine.storage, req.backupId);
    checkComponentsIncluded(manifest, components);
    const started = Date.now();
    req.onProgress?.({ phase: "pre-restore", done: 0, total: 1 });
    const live = COMPONENTS.filter((c) => c !== "database" || existsSync(engine.config.paths.database));
    const pre = await createBackup(engine, { type: "pre-restore", description: `before restoring ${components.join(", ")} from ${manifest.id}`, components: live });
    if (pre.skipped) throw new Error("pre-restore backup was skipped");
    preRestoreBackupId = pre.manifest.id;
    await applyRestore(engine, manifest, components, req.onProgress);
    const outcome = { backupId: manifest.id, components, preRestoreBackupId, durationMs: Date.now() - started };
    await appendAudit(engine.storage, { actor, action: "restore", backupId: manifest.id, components, result: "succeeded", detail: { preRestoreBackupId, durationMs: outcome.durationMs } }, engine.now());
    engine.log.info("restore succeeded", { ...outcome });
    return outcome;
  } catch (err) {
    const result = err instanceof RestoreError && err.rolledBack ? "rolled-back" : "failed";
    await appendAudit(engine.storage, { actor, action: "restore", backupId: req.backupId, components, result, error: errorMessage(err), detail: { preRestoreBackupId } }, engine.now()).catch(() => undefined);
    throw err;
  } finally {
    await lock.release();
  }
}

async function applyRestore(engine: Engine, manifest: StoredManifest, components: ComponentName[], onProgress?: (p: Progress) => void) {
  const { paths } = engine.config;
  const stagingParent = engine.config.crmRoot ?? path.dirname(paths.uploads);
  await mkdir(stagingParent, { recursive: true });
  const staging = await mkdtemp(path.join(stagingParent, ".colab-restore-"));
  const stagedFiles = path.join(staging, "files");
  try {
    const prefixes = components.map((c) => (c === "database" ? DATABASE_ENTRY : `${c}/`));
    const total = manifest.archive.sizeBytes;
    const result = await extractArchive(await engine.storage.get(archiveKey(manifest.id)), {
      stagingDir: stagedFiles,
      select: (p) => prefixes.some((pre) => p === pre || (pre.endsWith("/") && p.startsWith(pre))),
      onProgress: (done) => onProgress?.({ phase: "extract", done, total }),
    });
    if (result.archiveSha256 !== manifest.archive.sha256 || result.manifest.id !== manifest.id) {
      throw new ChecksumMismatchError(`restore ${manifest.id}: the archive's SHA-256 ${result.archiveSha256} differs from the recorded ${manifest.archive.sha256}; the backup is damaged, pick another`);
    }
    if (components.includes("database")) {
      const facts = inspectSnapshot(path.join(stagedFiles, DATABASE_ENTRY), paths.database);
      if (facts.integrityCheck !== "ok") throw new DatabaseError(`restore ${manifest.id}: the database snapshot fails integrity_check (${facts.integrityCheck})`);
    }
    if (components.includes("logs")) await gunzipLogs(path.join(stagedFiles, "logs"), manifest);
    await swapAll(engine, manifest, components, stagedFiles, staging, onProgress);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function gunzipLogs(dir: string, manifest: StoredManifest) {
  for (const f of manifest.components.logs?.files ?? []) {
    const gz = path.join(dir, "..", f.path);
    await pipeline(createReadStream(gz), createGunzip(), createWriteStream(gz.replace(/\.gz$/, ""), { mode: f.mode }));
    await rm(gz);
  }
}

/** Swaps every component in; if any step fails, undoes the ones already swapped, newest first. */
async function swapAll(engine: Engine, manifest: StoredManifest, components: ComponentName[], staged: string, staging: string, onProgress?: (p: Progress) => void) {
  const { paths } = engine.config;
  const done: { component: ComponentName; swap: Swap }[] = [];
  const order = COMPONENTS.filter((c) => components.includes(c)).reverse(); // logs, config, uploads, database
  try {
    for (const component of order) {
      onProgress?.({ phase: "swap", done: done.length, total: order.length });
      if (component === "database") done.push({ component, swap: await swapDatabase(path.join(staged, DATABASE_ENTRY), paths.database, staging, engine.config.dbBusyTimeoutMs) });
      else if (component === "uploads") done.push({ component, swap: await swapPath(path.join(staged, "uploads"), paths.uploads) });
      else {
        const root = component === "logs" ? paths.logs : paths.root;
        // Entries are "config/<rel>" and "logs/<rel>.log.gz"; logs were gunzipped in staging.
        const files = manifest.components[component]!.files.map((f) => f.path.slice(component.length + 1).replace(component === "logs" ? /\.gz$/ : /$^/, ""));
        done.push({ component, swap: await swapFiles(path.join(staged, component), root, files) });
      }
    }
  } catch (err) {
    const undoErrors: string[] = [];
    for (const { component, swap } of done.reverse()) {
      await swap.undo().catch((e) => undoErrors.push(`${component}: ${errorMessage(e)}`));
    }
    const rolledBack = undoErrors.length === 0;
    const what = rolledBack ? `rolled back ${done.map((d) => d.component).join(", ") || "nothing (no component had been swapped)"}` : `ROLLBACK INCOMPLETE (${undoErrors.join("; ")}): restore by hand from the pre-restore backup`;
    throw new RestoreError(`restore ${manifest.id}: ${errorMessage(err)}; ${what}`, rolledBack, { cause: err });
  }
  for (const { swap } of done) await swap.commit().catch((e) => engine.log.warn("restore: could not remove a replaced copy", { error: errorMessage(e) }));
  onProgress?.({ phase: "swap", done: order.length, total: order.length });
}

/** Per-file swap for config and logs: live files that the backup does not hold are left alone. */
async function swapFiles(stagedDir: string, root: string, files: string[]): Promise<Swap> {
  const swaps: Swap[] = [];
  const combined: Swap = {
    async undo() {
      for (const s of [...swaps].reverse()) await s.undo();
    },
    async commit() {
      for (const s of swaps) await s.commit();
    },
  };
  try {
    for (const rel of files) swaps.push(await swapPath(path.join(stagedDir, rel), path.join(root, rel)));
  } catch (err) {
    await combined.undo();
    throw err;
  }
  return combined;
}
