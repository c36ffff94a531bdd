// Plants a backup in a store the way an attacker with write access would: archive, manifest and SHA-256s all consistent.
import { createHash } from "node:crypto";
import { backupEntries, buildArchive, sha256, type TestFile } from "./test-archives.ts";
import type { Engine } from "../../core/engine.ts";
import { archiveKey, manifestKey, newBackupId } from "../../core/ids.ts";
import type { Manifest, StoredManifest } from "../../core/manifest.ts";

/** Files grouped by the manifest component that lists them (which need not be their folder's). */
export type Listing = Record<string, TestFile[]>;

export function plantedManifest(id: string, listed: Listing): Manifest {
  const components: Manifest["components"] = {};
  for (const [name, files] of Object.entries(listed)) {
    components[name] = {
      status: "included",
      fileCount: files.length,
      totalSize: files.reduce((n, f) => n + Buffer.byteLength(f.data), 0),
      files: files.map((f) => ({ path: f.path, size: Buffer.byteLength(f.data), sha256: sha256(f.data), mode: f.mode ?? 0o644 })),
    };
  }
  return {
    formatVersion: 1, tool: "colab-backup", id, name: `colab-backup-${id}`, type: "manual", description: "planted",
    createdAt: new Date().toISOString(), host: "attacker", components,
  };
}

/**
 * Stores a backup whose stored manifest lists `listed` and whose archive holds those files with `inner` as its
 * embedded manifest listing (default: the same), so the stored and embedded manifests can also disagree.
 */
export async function plantBackup(engine: Engine, listed: Listing, inner: Listing = listed): Promise<StoredManifest> {
  const id = newBackupId("manual", new Date());
  const files = Object.values(inner).flat();
  const archive = await buildArchive(backupEntries(files, plantedManifest(id, inner)));
  const stored: StoredManifest = {
    ...plantedManifest(id, listed),
    archive: { key: archiveKey(id), sizeBytes: archive.length, sha256: createHash("sha256").update(archive).digest("hex"), verifiedAt: new Date().toISOString() },
  };
  await engine.storage.put(archiveKey(id), archive);
  await engine.storage.put(manifestKey(id), JSON.stringify(stored, null, 2) + "\n");
  return stored;
}
