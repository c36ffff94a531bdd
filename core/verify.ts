// Verifying a stored backup: the archive's SHA-256, every file's SHA-256 against the manifest, and the database's integrity.
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { extractArchive } from "./archive/extract.ts";
import { readManifest } from "./catalog.ts";
import { checkManifestRules, entryProblem } from "./component-rules.ts";
import type { Engine, Progress } from "./engine.ts";
import { BackupError, errorMessage } from "./errors.ts";
import { archiveKey } from "./ids.ts";
import { manifestMismatch } from "./manifest-match.ts";
import { DATABASE_ENTRY, type StoredManifestV1 } from "./manifest.ts";
import { inspectSnapshot } from "./sources/sqlite.ts";
import { workName } from "./work-dir.ts";
import { audited } from "./audit-outcome.ts";
import { verifyBackupV2 } from "./v2/verify.ts";

export interface ComponentCheck {
  status: "ok" | "failed" | "missing" | "not-checked";
  files: number;
  bytes: number;
  detail?: string;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  archive: { sha256: string; expectedSha256: string; sizeBytes: number; ok: boolean };
  components: Record<string, ComponentCheck>;
  error?: string;
  checkedAt: string;
}

/**
 * `quick` checks that the stored objects are present with their recorded sizes, without reading them. Every run is in the
 * audit trail under `actor`, so "last verified" covers the CLI's verifies as well as the dashboard's.
 */
export async function verifyBackup(engine: Engine, id: string, onProgress?: (p: Progress) => void, opts: { quick?: boolean; actor?: string } = {}): Promise<VerifyReport> {
  return audited(engine, { actor: opts.actor ?? "system", action: "verify", backupId: id }, () => verifyOnce(engine, id, onProgress, opts),
    (r) => ({ result: r.ok ? "succeeded" : "failed", ...(r.error ? { error: r.error } : {}), detail: { quick: opts.quick === true } }));
}

async function verifyOnce(engine: Engine, id: string, onProgress?: (p: Progress) => void, opts: { quick?: boolean } = {}): Promise<VerifyReport> {
  const manifest = await readManifest(engine.storage, id);
  if (manifest.formatVersion === 2) return verifyBackupV2(engine, manifest, { ...opts, onProgress });
  if (opts.quick) return quickVerifyV1(engine, manifest);
  const work = await mkdtemp(path.join(engine.workRoot, workName("verify", "")));
  const report: VerifyReport = {
    id,
    ok: false,
    archive: { sha256: "", expectedSha256: manifest.archive.sha256, sizeBytes: manifest.archive.sizeBytes, ok: false },
    components: initialChecks(manifest),
    checkedAt: engine.now().toISOString(),
  };
  try {
    const staged = path.join(work, "files");
    checkManifestRules(manifest);
    const result = await extractArchive(await engine.storage.get(archiveKey(id)), {
      stagingDir: staged,
      // Only the database is written out, to run integrity_check on it; every other file is hashed in passing.
      select: (p) => p === DATABASE_ENTRY,
      allowEntry: entryProblem,
      onProgress: (done) => onProgress?.({ phase: "verify", done, total: manifest.archive.sizeBytes }),
    });
    report.archive.sha256 = result.archiveSha256;
    const mismatch = manifestMismatch(manifest, result);
    report.archive.ok = mismatch === null;
    for (const check of Object.values(report.components)) if (check.status === "not-checked") check.status = "ok";
    const db = report.components.database;
    if (db && db.status === "ok") {
      const facts = inspectSnapshot(path.join(staged, DATABASE_ENTRY), manifest.components.database!.database!.sourcePath);
      if (facts.integrityCheck !== "ok") Object.assign(db, { status: "failed", detail: `integrity_check: ${facts.integrityCheck}` });
      else db.detail = `integrity_check ok; ${Object.keys(facts.tables).length} tables, ${facts.pageCount} pages`;
    }
    if (mismatch) report.error = mismatch;
  } catch (err) {
    report.error = errorMessage(err);
    const entry = /(?:extract archive|check backup [^:]+): ([^:]+):/.exec(report.error)?.[1] ?? "";
    // The component that lists the entry is at fault (an uploads file listed under config fails config), else its folder's.
    const listedBy = Object.keys(report.components).find((c) => manifest.components[c]!.files.some((f) => f.path === entry));
    const component = listedBy ?? Object.keys(report.components).find((c) => entry === DATABASE_ENTRY ? c === "database" : entry.startsWith(`${c}/`));
    if (component) Object.assign(report.components[component]!, { status: "failed", detail: report.error });
    if (!(err instanceof BackupError)) throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  report.ok = report.archive.ok && Object.values(report.components).every((c) => c.status === "ok" || c.status === "missing");
  return report;
}

async function quickVerifyV1(engine: Engine, manifest: StoredManifestV1): Promise<VerifyReport> {
  const info = await engine.storage.stat(archiveKey(manifest.id));
  const ok = info?.size === manifest.archive.sizeBytes;
  const checks = initialChecks(manifest);
  for (const c of Object.values(checks)) if (c.status === "not-checked") Object.assign(c, ok ? { status: "ok", detail: "quick: archive present with its size; contents not read" } : { status: "failed" });
  return {
    id: manifest.id, ok, components: checks, checkedAt: engine.now().toISOString(),
    archive: { sha256: "", expectedSha256: manifest.archive.sha256, sizeBytes: manifest.archive.sizeBytes, ok },
    ...(ok ? {} : { error: info ? `archive ${archiveKey(manifest.id)} has ${info.size} bytes, expected ${manifest.archive.sizeBytes}` : `archive ${archiveKey(manifest.id)} is missing from the store` }),
  };
}

function initialChecks(m: StoredManifestV1): Record<string, ComponentCheck> {
  return Object.fromEntries(
    Object.entries(m.components).map(([name, c]) => [
      name,
      { status: c.status === "missing" ? "missing" : "not-checked", files: c.fileCount, bytes: c.totalSize, ...(c.note ? { detail: c.note } : {}) } satisfies ComponentCheck,
    ]),
  );
}
