// The RESTORE.txt placed in every archive: how to check and restore it by hand with tar, sha256sum, gunzip and sqlite3.
import type { Manifest } from "../manifest.ts";

/**
 * Every line starting with "$ " (after its indent) is a shell command, run in order from the folder holding the
 * .tar.gz, with /path/to/crm standing for the CRM folder. test/restore-guide-steps.test.ts runs exactly these
 * lines with bash, so a step that stops working fails a test rather than an admin.
 */
export function restoreGuide(m: Manifest): string {
  const db = m.components.database;
  const tables = db?.database ? Object.entries(db.database.tables).map(([t, n]) => `    ${t}: ${n} rows`).join("\n") : "    (no database in this backup)";
  // A step for a component the backup lacks would fail on a missing folder, so it says so instead.
  const has = (c: string) => (m.components[c]?.files.length ?? 0) > 0;
  const none = "     (not in this backup)";
  return `colab-backup archive ${m.id} (${m.type}), created ${m.createdAt} on ${m.host}
${m.description ? `Description: ${m.description}\n` : ""}
HOW TO RESTORE BY HAND
======================
Prefer \`colab-backup restore ${m.id} --components database,uploads --confirm CONFIRM_RESTORE\`:
it backs up the current data first, verifies everything and rolls back on failure.
Without the tool, stop the CRM first, then run the lines starting with "$" in order (without the "$"),
from the folder holding the archive, with /path/to/crm replaced by the CRM's folder:

1. Check the archive is whole (gzip checks its CRC; an exported file may have another name):
     $ gzip -t ${m.id}.tar.gz
   A backup in a store also has its SHA-256 in ${m.id}.json beside it ("archive.sha256"); compare with
   the output of: sha256sum ${m.id}.tar.gz
2. Unpack into an empty folder (never straight over the CRM):
     $ mkdir restore && tar -xzf ${m.id}.tar.gz -C restore && cd restore
3. Check every file against manifest.json (each file's "path" and "sha256"):
     $ python3 -c 'import json;m=json.load(open("manifest.json"));[print(f["sha256"]+"  "+f["path"]) for c in m["components"].values() for f in c["files"]]' > SHA256SUMS
     $ sha256sum -c SHA256SUMS
4. Database (database/dev.db is a self-contained snapshot, not a copy of a live file):
${has("database") ? `     $ sqlite3 database/dev.db 'PRAGMA integrity_check;'      # must print: ok
     $ sqlite3 /path/to/crm/prisma/dev.db ".restore database/dev.db"` : none}
   ".restore" copies through SQLite, so no old -wal/-shm/-journal file can pair with the restored data.
   If the CRM cannot be stopped, this is still safe: it sees the restored data on its next read.
   Expected tables:
${tables}
5. Uploads: move the current folder aside, then move the restored one in:
${has("uploads") ? "     $ mv /path/to/crm/uploads /path/to/crm/uploads.old && mv uploads /path/to/crm/uploads" : none}
6. Config files are under config/ with their paths relative to the CRM folder (.env is never backed up):
${has("config") ? "     $ cp -R config/. /path/to/crm/" : none}
7. Logs are gzipped, some in sub-folders: unpack them all (folders kept), then copy them into the CRM's logs
   folder (a log of the same name there is replaced by the backed-up copy):
${has("logs") ? `     $ find logs -name '*.log.gz' -exec gunzip {} +
     $ mkdir -p /path/to/crm/logs && cp -R logs/. /path/to/crm/logs/` : none}
`;
}
