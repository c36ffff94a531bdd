// `restore --target DIR`: a backup's components (or chosen files) written into an empty folder in the CRM's layout.
// Nothing live changes, so there is no swap, no pre-restore backup and no journal: a crash leaves a half-filled DIR,
// which the next run refuses as not empty (naming the leftover), and the live CRM is untouched either way. The
// checks are the live restore's: every byte against its SHA-256, the component rules, the extractor's defences.
import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { extractArchive } from "./archive/extract.ts";
import { chooseFiles, includedEntries } from "./browse.ts";
import { appendAudit, readManifest } from "./catalog.ts";
import { checkManifestRules, entryProblem } from "./component-rules.ts";
import { nameFullDisk } from "./disk-full.ts";
import type { Engine, Progress } from "./engine.ts";
import { DatabaseError, ValidationError, errorMessage } from "./errors.ts";
import { archiveKey } from "./ids.ts";
import { assertManifestMatches } from "./manifest-match.ts";
import { COMPONENTS, DATABASE_ENTRY, type ComponentName, type StoredManifest } from "./manifest.ts";
import { checkComponentsIncluded, gunzipLogs } from "./restore.ts";
import { checkRestoreSpace } from "./restore-space.ts";
import { inspectSnapshot } from "./sources/sqlite.ts";
import { stageV2Components } from "./v2/restore-staging.ts";

export interface TargetRestoreRequest {
  backupId: string;
  components: readonly ComponentName[];
  target: string;
  /** Only these files or folders (paths as `ls` prints them). */
  include?: readonly string[];
  actor?: string;
  onProgress?: (p: Progress) => void;
}

export interface TargetRestoreOutcome {
  backupId: string;
  components: ComponentName[];
  target: string;
  files: number;
  bytes: number;
  durationMs: number;
}

const STAGING_PREFIX = ".colab-restore-";

/** Where each staged entry goes under DIR: the CRM's default layout (prisma/dev.db, uploads/, config files at the root, logs/). */
export const TARGET_LAYOUT = { database: "prisma/dev.db", uploads: "uploads", logs: "logs" } as const;

export async function restoreToTarget(engine: Engine, req: TargetRestoreRequest): Promise<TargetRestoreOutcome> {
  const actor = req.actor ?? "cli";
  const target = path.resolve(req.target);
  let components = [...new Set(req.components)];
  const started = Date.now();
  const detail: Record<string, unknown> = { target, ...(req.include ? { include: req.include } : {}) };
  try {
    if (components.length === 0) throw new ValidationError(`restore into ${target}: choose at least one component from ${COMPONENTS.join(", ")}`);
    checkTargetPlace(engine, target);
    const manifest = await readManifest(engine.storage, req.backupId);
    checkComponentsIncluded(manifest, components);
    checkManifestRules(manifest);
    let chosen: StoredManifest = manifest;
    if (req.include) ({ manifest: chosen, components } = chooseFiles(manifest, components, req.include));
    const created = await prepareTarget(target);
    const staging = path.join(target, `${STAGING_PREFIX}${randomBytes(4).toString("hex")}`);
    try {
      await mkdir(staging, { mode: 0o700 });
      await checkRestoreSpace(chosen, components, { dir: target });
      const staged = path.join(staging, "files");
      await stage(engine, manifest, chosen, components, staged, req.onProgress);
      await placeInLayout(chosen, components, staged, target);
      await rm(staging, { recursive: true, force: true });
    } catch (err) {
      // DIR was empty or absent: leave it so, whatever got written.
      if (created) await rm(target, { recursive: true, force: true });
      else for (const name of await readdir(target).catch(() => [])) await rm(path.join(target, name), { recursive: true, force: true });
      throw await nameFullDisk(err, target, `restore ${manifest.id} into ${target}`);
    }
    const files = components.reduce((n, c) => n + (chosen.components[c]?.files.length ?? 0), 0);
    const bytes = components.reduce((n, c) => n + (chosen.components[c]?.totalSize ?? 0), 0);
    const outcome = { backupId: manifest.id, components, target, files, bytes, durationMs: Date.now() - started };
    // Audited although nothing live changed: the folder now holds a copy of the CRM's data (customers, config).
    await appendAudit(engine.storage, { actor, action: "restore", backupId: manifest.id, components, result: "succeeded", detail: { ...detail, files, durationMs: outcome.durationMs } }, engine.now());
    return outcome;
  } catch (err) {
    await appendAudit(engine.storage, { actor, action: "restore", backupId: req.backupId, components, result: "failed", error: errorMessage(err), detail }, engine.now()).catch(() => undefined);
    throw err;
  }
}

const inside = (child: string, parent: string) => child === parent || child.startsWith(parent + path.sep);

/** A target inside the live uploads or logs would be swept into the next backup; inside the store it would look like backups. */
function checkTargetPlace(engine: Engine, target: string): void {
  const { paths, backupDir } = engine.config;
  const live: [string, string][] = [[paths.uploads, "the live uploads folder"], [paths.logs, "the live logs folder"], [path.resolve(backupDir), "the backup store (BACKUP_DIR)"]];
  for (const [dir, what] of live) {
    if (inside(target, path.resolve(dir))) throw new ValidationError(`restore into ${target}: the folder is inside ${what} (${dir}); choose a folder outside it`);
  }
}

/** DIR must be absent (created now, private) or an empty folder; returns whether it was created. */
async function prepareTarget(target: string): Promise<boolean> {
  const st = await lstat(target).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? null : Promise.reject(err)));
  if (!st) {
    // 0700: the restored database and config hold customer data and settings; the admin widens it if they choose.
    await mkdir(target, { recursive: true, mode: 0o700 });
    return true;
  }
  if (!st.isDirectory()) throw new ValidationError(`restore into ${target}: it is not a folder${st.isSymbolicLink() ? " (a symbolic link)" : ""}; give an empty folder or a path that does not exist yet`);
  const names = await readdir(target);
  if (names.length) {
    const leftover = names.find((n) => n.startsWith(STAGING_PREFIX));
    const why = leftover ? `it holds ${leftover}, left by an interrupted restore; delete ${target} and run again` : `it is not empty (${names.slice(0, 3).join(", ")}${names.length > 3 ? ", ..." : ""}); give an empty folder or a path that does not exist yet`;
    throw new ValidationError(`restore into ${target}: ${why}`);
  }
  return false;
}

/** Writes the chosen files to `staged` in the archive layout, checked byte for byte, then checks the database and gunzips logs. */
async function stage(engine: Engine, full: StoredManifest, chosen: StoredManifest, components: ComponentName[], staged: string, onProgress?: (p: Progress) => void): Promise<void> {
  if (chosen.formatVersion === 2) {
    await stageV2Components(engine.storage, chosen, components, staged, onProgress);
  } else {
    const total = (full as Extract<StoredManifest, { formatVersion: 1 }>).archive.sizeBytes;
    // The whole archive is read and hashed (that is how v1 verifies); only the chosen entries are written.
    const result = await extractArchive(await engine.storage.get(archiveKey(full.id)), {
      stagingDir: staged,
      select: includedEntries(chosen, components),
      allowEntry: entryProblem,
      onProgress: (done) => onProgress?.({ phase: "extract", done, total }),
    });
    assertManifestMatches(full as Extract<StoredManifest, { formatVersion: 1 }>, result, "restore");
  }
  if (components.includes("database")) {
    const facts = inspectSnapshot(path.join(staged, DATABASE_ENTRY), path.join("<target>", TARGET_LAYOUT.database));
    if (facts.integrityCheck !== "ok") throw new DatabaseError(`restore ${full.id}: the database snapshot fails integrity_check (${facts.integrityCheck})`);
  }
  if (components.includes("logs")) await gunzipLogs(path.join(staged, "logs"), chosen);
}

/** Renames staged entries into DIR: one filesystem, so each is a rename; config files go one by one to their CRM-relative names. */
async function placeInLayout(chosen: StoredManifest, components: ComponentName[], staged: string, target: string): Promise<void> {
  const move = async (from: string, to: string) => {
    await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
    await rename(from, to);
  };
  if (components.includes("config")) {
    for (const f of chosen.components.config?.files ?? []) await move(path.join(staged, f.path), path.join(target, f.path.slice("config/".length)));
  }
  if (components.includes("database")) await move(path.join(staged, DATABASE_ENTRY), path.join(target, TARGET_LAYOUT.database));
  // A component with no files (an empty uploads folder) stages nothing; restore it as the empty folder it was.
  for (const c of ["uploads", "logs"] as const) {
    if (!components.includes(c)) continue;
    if (await lstat(path.join(staged, c)).then(() => true, () => false)) await move(path.join(staged, c), path.join(target, TARGET_LAYOUT[c]));
    else await mkdir(path.join(target, TARGET_LAYOUT[c]), { mode: 0o700 });
  }
}
