// The standard archive on demand: a v2 backup written as the same .tar.gz a v1 backup is, byte-identical every time.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import { restoreGuide } from "../archive/restore-guide.ts";
import { checkManifestRules } from "../component-rules.ts";
import { COMPONENTS, ManifestV2Schema, MANIFEST_ENTRY, RESTORE_GUIDE_ENTRY, type Manifest, type StoredManifest, type StoredManifestV2 } from "../manifest.ts";
import { archiveKey } from "../ids.ts";
import type { Storage } from "../storage/storage.ts";
import { PackReader, fileBlobs } from "./reader.ts";

/**
 * manifest.json first, RESTORE.txt, then database/, uploads/, config/, logs/ as in a v1 archive, so `tar -xzf` and
 * `sha256sum -c` restore it by hand. Every header field comes from the manifest (times, modes, uid/gid 0) and
 * Node's gzip header carries no time, so two exports of one backup are the same bytes. Every piece is checked as read.
 */
export function exportArchive(storage: Storage, manifest: StoredManifestV2): Readable {
  checkManifestRules(manifest);
  const pack = tar.pack();
  const gzip = createGzip({ level: 6 });
  pipeline(pack as unknown as Readable, gzip).catch((err) => gzip.destroy(err));
  writeEntries(pack, storage, manifest).catch((err) => {
    pack.destroy(err);
    gzip.destroy(err);
  });
  return gzip;
}

async function writeEntries(pack: tar.Pack, storage: Storage, given: StoredManifestV2): Promise<void> {
  // Parsed again so key order is the schema's: the same backup exports the same bytes from any copy of its manifest.
  const m = ManifestV2Schema.parse(given) as StoredManifestV2;
  const at = new Date(m.createdAt);
  await addBuffer(pack, MANIFEST_ENTRY, Buffer.from(JSON.stringify(m, null, 2) + "\n"), at);
  // The per-backup guide reads only ids, times and table counts, which both formats share.
  await addBuffer(pack, RESTORE_GUIDE_ENTRY, Buffer.from(restoreGuide(m as unknown as Manifest)), at);
  const reader = new PackReader(storage);
  for (const name of COMPONENTS) {
    for (const f of m.components[name]?.files ?? []) {
      const mtime = f.mtime ? new Date(f.mtime) : at;
      const entry = pack.entry({ name: f.path, size: f.size, mode: f.mode & 0o777, mtime, uid: 0, gid: 0, uname: "", gname: "", type: "file" });
      await pipeline(Readable.from(fileBlobs(reader, f)), entry as unknown as NodeJS.WritableStream);
    }
  }
  pack.finalize();
}

function addBuffer(pack: tar.Pack, name: string, body: Buffer, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: body.length, mode: 0o644, mtime, uid: 0, gid: 0, type: "file" }, body, (err) => (err ? reject(err) : resolve()));
  });
}

/** The standard .tar.gz of any listed backup: a v1 backup's stored archive as it is, a v2 backup exported. */
export async function exportStream(storage: Storage, manifest: StoredManifest): Promise<Readable> {
  return manifest.formatVersion === 1 ? storage.get(archiveKey(manifest.id)) : exportArchive(storage, manifest);
}
