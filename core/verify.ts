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
import { DATABASE_ENTRY, type StoredManifest } from "./manifest.ts";
import { inspectSnapshot } from "./sources/sqlite.ts";
import { workName } from "./work-dir.ts";

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

export async function verifyBackup(engine: Engine, id: string, onProgress?: (p: Progress) => void): Promise<VerifyReport> {
  const manifest = await readManifest(engine.storage, id);
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

function initialChecks(m: StoredManifest): Record<string, ComponentCheck> {
  return Object.fromEntries(
    Object.entries(m.components).map(([name, c]) => [
      name,
      { status: c.status === "missing" ? "missing" : "not-checked", files: c.fileCount, bytes: c.totalSize, ...(c.note ? { detail: c.note } : {}) } satisfies ComponentCheck,
    ]),
  );
}
