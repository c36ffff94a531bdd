// Writes a backup archive as one stream: manifest.json, RESTORE.txt, then each file, tarred and gzipped in parallel.
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { finished, pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { BackupError } from "../errors.ts";
import { MANIFEST_ENTRY, RESTORE_GUIDE_ENTRY, type Manifest } from "../manifest.ts";
import { createParallelGzip, type ParallelGzipOptions } from "./parallel-gzip.ts";

/** A file on disk that goes into the archive under `path`, with the SHA-256 measured before archiving. */
export interface ArchiveSource {
  path: string;
  file: string;
  size: number;
  mode: number;
  mtime: Date;
  sha256: string;
  /** For gzipped logs: the size of the original file. */
  originalSize?: number;
}

/** A file changed between hashing and archiving; the backup is retried rather than storing a mismatch. */
export class FileChangedError extends BackupError {
  override readonly code = "file_changed";
}

export interface WriteArchiveOptions {
  gzip?: ParallelGzipOptions;
  /** Uncompressed file bytes written so far. */
  onProgress?: (bytes: number) => void;
}

/** Returns the compressed archive as a stream; it errors if a source file changes while being read. */
export function createArchiveStream(manifest: Manifest, restoreGuide: string, sources: ArchiveSource[], options: WriteArchiveOptions = {}): Readable {
  const pack = tar.pack();
  const gzip = createParallelGzip(options.gzip);
  const fail = (err: unknown) => gzip.destroy(err instanceof Error ? err : new Error(String(err)));
  pipeline(pack as unknown as Readable, gzip).catch(fail);
  writeEntries(pack, manifest, restoreGuide, sources, options.onProgress).catch((err) => {
    pack.destroy(err);
    fail(err);
  });
  return gzip;
}

async function writeEntries(pack: tar.Pack, manifest: Manifest, guide: string, sources: ArchiveSource[], onProgress?: (n: number) => void) {
  const now = new Date(manifest.createdAt);
  await addBuffer(pack, MANIFEST_ENTRY, Buffer.from(JSON.stringify(manifest, null, 2) + "\n"), now);
  await addBuffer(pack, RESTORE_GUIDE_ENTRY, Buffer.from(guide), now);
  let done = 0;
  for (const src of sources) {
    const hash = createHash("sha256");
    const entry = pack.entry({ name: src.path, size: src.size, mode: src.mode & 0o777, mtime: src.mtime, uid: 0, gid: 0, type: "file" });
    // Read exactly the bytes measured: a file that grew since is captured as it was; one that shrank fails below.
    const input = src.size === 0 ? Readable.from([]) : createReadStream(src.file, { start: 0, end: src.size - 1 });
    // A failure here reaches the caller through the pack; the entry's own copy of it needs no second report.
    entry.on("error", () => undefined);
    let read = 0;
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        hash.update(chunk);
        read += chunk.length;
        done += chunk.length;
        onProgress?.(done);
        if (!entry.write(chunk)) await once(entry, "drain");
      }
    } catch (err) {
      throw new FileChangedError(`archive ${src.path}: ${src.file} could not be read in full (${(err as Error).message}); it probably changed during the backup`, { cause: err });
    }
    // Checked before the entry ends: ending it short would fail the whole tar stream with tar-stream's bare
    // "Size mismatch" instead of the FileChangedError that makes the backup try again.
    if (read !== src.size) {
      throw new FileChangedError(`archive ${src.path}: ${src.file} shrank from ${src.size} to ${read} bytes while the backup read it; it probably changed during the backup`);
    }
    const ended = finished(entry as unknown as NodeJS.WritableStream);
    (entry as unknown as NodeJS.WritableStream).end();
    await ended;
    if (hash.digest("hex") !== src.sha256) {
      throw new FileChangedError(`archive ${src.path}: ${src.file} changed while the backup was running; run the backup again`);
    }
  }
  pack.finalize();
}

function addBuffer(pack: tar.Pack, name: string, body: Buffer, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: body.length, mode: 0o644, mtime, uid: 0, gid: 0, type: "file" }, body, (err) => (err ? reject(err) : resolve()));
  });
}
