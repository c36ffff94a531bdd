// The RESTORE.txt at the root of a store holding v2 backups: how to rebuild any file by hand with standard tools.
export const STORE_GUIDE_KEY = "RESTORE.txt";

export function storeGuide(): string {
  return `colab-backup store, format v2 (content-addressed)
===================================================
Prefer the tool: \`colab-backup restore <id> --components ... --confirm CONFIRM_RESTORE\` (backs up the current data first,
verifies every piece, rolls back on failure), or \`colab-backup export <id> --output backup.tar.gz\` for a standard archive.

LAYOUT
  <type>/<id>.json            a backup's manifest (type: daily, weekly, monthly, manual, pre-restore)
  <type>/<id>.tar.gz          an older (format 1) backup: a plain tar.gz, see the RESTORE.txt inside it
  data/packs/<aa>/<sha>.pack  pieces of files, concatenated; <sha> is the SHA-256 of the whole pack file
In a manifest with "formatVersion": 2, components.<name>.files[] lists every file: "path" (as in a tar.gz backup),
"size", "sha256" of its content, "mode", and "blobs": its pieces in order. Each piece has "pack", "offset" and "length"
(where its stored bytes are in the pack), "encoding" ("gzip": one gzip member; "raw": the bytes as they are), "size"
and "sha256" of the piece's content.

HOW TO RESTORE ONE FILE BY HAND (run in the store's folder; for S3, download data/packs and the manifest first)
  1. For each piece of the file, in order, cut its bytes out of the pack and decode them:
       tail -c +$((OFFSET + 1)) PACK | head -c LENGTH > piece            # OFFSET, LENGTH from the manifest
       gunzip -c < piece >> restored-file      # encoding "gzip"
       cat piece >> restored-file              # encoding "raw"
     sha256sum piece-content checks a piece against its "sha256" if you want to check each one.
  2. Check the whole file: echo "SHA256  restored-file" | sha256sum -c      # SHA256 = the file's "sha256"
  This one-liner prints the commands for every file of a backup (python3 only reads the JSON):
    python3 -c 'import json,sys;m=json.load(open(sys.argv[1]))
    for c in m["components"].values():
      for f in c["files"]:
        out="restore/"+f["path"];print("mkdir -p \\"$(dirname \\""+out+"\\")\\" && : > \\""+out+"\\"")
        for b in f["blobs"]:print("tail -c +%d %s | head -c %d | %s >> \\"%s\\"" % (b["offset"]+1,b["pack"],b["length"],"gunzip -c" if b["encoding"]=="gzip" else "cat",out))
        print("echo \\"%s  %s\\" | sha256sum -c" % (f["sha256"],out))' daily/<id>.json > restore.sh
    sh restore.sh
  The result has the layout of a format 1 archive: database/dev.db, uploads/..., config/..., logs/<name>.log.gz.

DATABASE
  database/dev.db is a snapshot taken with SQLite's online backup API and checked with integrity_check:
    sqlite3 restore/database/dev.db 'PRAGMA integrity_check;'              # must print: ok
    sqlite3 /path/to/crm/prisma/dev.db ".restore restore/database/dev.db"  # copies through SQLite, stop the CRM first
UPLOADS, CONFIG, LOGS
  Move the live uploads folder aside and the restored one in; config files are relative to the CRM folder (.env is never
  backed up); logs are gzipped: gunzip restore/logs/*.log.gz.
Pieces are shared between backups: never edit or delete files under data/ by hand.
`;
}
