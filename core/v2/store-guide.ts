// The RESTORE.txt at the root of a store holding v2 backups: how to rebuild any file by hand with standard tools.
export const STORE_GUIDE_KEY = "RESTORE.txt";

/**
 * Lines starting with "$ " are shell commands (deeper-indented lines after one continue it), run in order from an
 * empty folder with /path/to/store, /path/to/crm and <id> filled in. test/restore-guide-steps.test.ts runs exactly
 * these lines with bash on a real store, so the guide cannot drift from what works.
 */
export function storeGuide(): string {
  return `colab-backup store, format v2 (content-addressed)
===================================================
Prefer the tool: \`colab-backup restore <id> --components ... --confirm CONFIRM_RESTORE\` (backs up the current data first,
verifies every piece, rolls back on failure), or \`colab-backup export <id> --output backup.tar.gz\` for a standard archive.

LAYOUT
  <type>/<id>.json            a backup's manifest (type: daily, weekly, monthly, manual, pre-restore): JSON, stored
                              gzipped; read it with \`gzip -dcf daily/<id>.json\` (-f: older ones are plain JSON)
  <type>/<id>.tar.gz          an older (format 1) backup: a plain tar.gz, see the RESTORE.txt inside it
  data/packs/<aa>/<sha>.pack  pieces of files, concatenated; <sha> is the SHA-256 of the whole pack file
  data/repacked/<time>.json   cleanup's notes of packs whose pieces it copied to new packs (manifests now name the
                              new ones; cleanup deletes the old packs an hour or more later)
In a manifest with "formatVersion": 2, components.<name>.files[] lists every file: "path" (as in a tar.gz backup),
"size", "sha256" of its content, "mode", and "blobs": its pieces in order. Each piece has "pack", "offset" and
"length" (where its stored bytes are in the pack), "encoding" ("gzip": one gzip member; "raw": the bytes as they
are), "size" and "sha256" of the piece's content. "pack" is the pack's path in the store, or, in newer manifests, a
number: the position (from 0) of that path in the manifest's top-level "packs" list. A file of one piece leaves out
the piece's "sha256" and "size" when they are the file's. A database piece may also have "patches": then the stored
bytes are its base, and each patch replaces the "size" bytes (one database page) from byte "at" of the piece: bytes
"from" to "from" + "length" of its "bundle" (a stored blob with the same fields: pack, offset, length, encoding) are a
raw deflate stream whose preset dictionary is the page being replaced as the piece holds it at that point (python3's
zlib reads it). Patches apply in their order: a page may be patched several times, each patch inflated against what
the ones before it made of the page. "sha256" is the patched piece's.

HOW TO RESTORE BY HAND
Stop the CRM. Run the lines starting with "$" in order (without the "$"), from an empty folder, with /path/to/store
replaced by the store's folder (for S3, download the manifest and data/packs first), /path/to/crm by the CRM's folder,
daily/<id> by the backup's type and id (\`colab-backup list\` shows them).
One file by hand: for each of its pieces in order, cut the stored bytes out of the pack and decode them, then check:
    tail -c +$((OFFSET + 1)) PACK | head -c LENGTH | gunzip -c >> FILE    # encoding "gzip" (for "raw": no gunzip)
    echo "SHA256  FILE" | sha256sum -c                                   # SHA256 = the file's "sha256"
A piece with patches: decode it into a file of its own, lay each patch's page over it, then append it:
    tail -c +$((OFFSET + 1)) PACK | head -c LENGTH | gunzip -c > piece
    tail -c +$((BUNDLE_OFFSET + 1)) BUNDLE_PACK | head -c BUNDLE_LENGTH > bundle    # for each patch (a "raw" bundle)
    python3 -c "$PATCH" AT SIZE FROM PATCH_LENGTH    # PATCH: the page inflated against the piece's page, written over it
    cat piece >> FILE
For every file of a backup, this writes those commands into restore.sh (gzip unpacks the manifest, python3 only reads
the JSON), then runs it; it stops at the first file whose SHA-256 does not match:
    $ gzip -dcf /path/to/store/daily/<id>.json | python3 -c 'if 1:  # "if 1:" lets the lines below keep their indent when pasted
      import json,os,shlex,sys;m=json.load(sys.stdin);q=shlex.quote;P=m.get("packs",[])
      PATCH="import sys,zlib;a,s,f,n=map(int,sys.argv[1:]);p=open(\\"piece\\",\\"r+b\\");p.seek(a);d=zlib.decompressobj(-15,zdict=p.read(s));x=d.decompress(open(\\"bundle\\",\\"rb\\").read()[f:f+n],s);assert len(x)==s;p.seek(a);p.write(x)"
      for c in m["components"].values():
        for f in c["files"]:
          out="restore/"+f["path"];print("mkdir -p "+q(os.path.dirname(out))+" && : > "+q(out))
          cut=lambda b:"tail -c +%d %s | head -c %d | %s" % (b["offset"]+1,q(sys.argv[1]+"/"+(P[b["pack"]] if isinstance(b["pack"],int) else b["pack"])),b["length"],"gunzip -c" if b["encoding"]=="gzip" else "cat")
          for b in f["blobs"]:
            if not b.get("patches"):print(cut(b)+" >> "+q(out));continue
            print(cut(b)+" > piece")
            for p in b["patches"]:
              print(cut(p["bundle"])+" > bundle")
              print("python3 -c %s %d %d %d %d" % (q(PATCH),p["at"],p["size"],p["from"],p["length"]))
            print("cat piece >> "+q(out))
          print("echo %s | sha256sum -c" % q(f["sha256"]+"  "+out))' /path/to/store > restore.sh
    $ sh -e restore.sh
The result, in restore/, has the layout of a format 1 archive: database/dev.db, uploads/..., config/..., logs/....log.gz.

DATABASE: restore/database/dev.db is a snapshot taken with SQLite's online backup API and checked with integrity_check.
".restore" copies it through SQLite, so no old -wal/-shm/-journal file can pair with the restored data:
    $ sqlite3 restore/database/dev.db 'PRAGMA integrity_check;'              # must print: ok
    $ sqlite3 /path/to/crm/prisma/dev.db ".restore restore/database/dev.db"
UPLOADS: move the live folder aside and the restored one in:
    $ mv /path/to/crm/uploads /path/to/crm/uploads.old && mv restore/uploads /path/to/crm/uploads
CONFIG: files are relative to the CRM folder (.env is never backed up):
    $ cp -R restore/config/. /path/to/crm/
LOGS are gzipped, some in sub-folders: unpack them all, then copy them in (same-named logs are replaced):
    $ find restore/logs -name '*.log.gz' -exec gunzip {} +
    $ mkdir -p /path/to/crm/logs && cp -R restore/logs/. /path/to/crm/logs/
Skip a step whose folder is not in restore/ (a backup made without that component).
Pieces are shared between backups: never edit or delete files under data/ by hand.
`;
}
