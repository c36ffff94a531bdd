// What `backup --json` prints for a finished backup: the manifest without its per-file lists, as `list --json` shows it.
import type { BackupSummary } from "../core/catalog.ts";
import type { StoredManifest } from "../core/manifest.ts";

/**
 * The manifest's id, type, description, dates, host, archive or stored summary (bytes added and referenced, requests,
 * files read and reused) and each component's status, note, file count, size and database facts; the per-file lists
 * (a few MB at the reference CRM's size) are left out. `colab-backup ls <id> --json` lists the files, and
 * the stored manifest has everything.
 */
export function backupSummary(m: StoredManifest): BackupSummary {
  const components = Object.fromEntries(Object.entries(m.components).map(([name, { files: _files, ...rest }]) => [name, rest]));
  return { ...m, components } as BackupSummary;
}
