// Whether a stored manifest (the .json beside an archive) still describes the archive it sits beside.
import { isDeepStrictEqual } from "node:util";
import { ChecksumMismatchError } from "./errors.ts";
import type { Manifest, StoredManifestV1 } from "./manifest.ts";

/** What extraction learned about an archive: its hash and size, and the manifest it carries inside. */
export interface ReadArchive {
  archiveSha256: string;
  archiveSize: number;
  manifest: Manifest;
}

/**
 * The first difference between the stored manifest and the archive, or null. The stored copy decides which files a
 * restore swaps and what `list` shows, and extraction checks files only against the embedded copy, so an edit to either
 * (a file's hash, the recorded size) must be caught by comparing the two.
 */
export function manifestMismatch(stored: StoredManifestV1, read: ReadArchive): string | null {
  if (read.archiveSha256 !== stored.archive.sha256) return `the archive's SHA-256 is ${read.archiveSha256}, the manifest records ${stored.archive.sha256}`;
  if (read.archiveSize !== stored.archive.sizeBytes) return `the archive is ${read.archiveSize} bytes, the manifest records ${stored.archive.sizeBytes}`;
  for (const [key, value] of Object.entries(read.manifest)) {
    if (key === "archive" || key === "completedAt") continue; // only the stored copy has them
    if (!isDeepStrictEqual((stored as Record<string, unknown>)[key], value)) return `the stored manifest's "${key}" differs from the manifest inside the archive`;
  }
  return null;
}

/** Throws ChecksumMismatchError naming the backup and the difference. */
export function assertManifestMatches(stored: StoredManifestV1, read: ReadArchive, verb: string): void {
  const problem = manifestMismatch(stored, read);
  if (problem) throw new ChecksumMismatchError(`${verb} ${stored.id}: ${problem}; the backup is damaged, pick another`);
}
