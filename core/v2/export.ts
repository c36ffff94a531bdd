// The standard archive on demand: a v2 backup written as the same .tar.gz a v1 backup is, byte-identical every time.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { restoreGuide } from "../archive/restore-guide.ts";
import { checkManifestRules } from "../component-rules.ts";
import { ChecksumMismatchError } from "../errors.ts";
import { COMPONENTS, ManifestV2Schema, MANIFEST_ENTRY, RESTORE_GUIDE_ENTRY, type BlobRef, type Manifest, type StoredManifest, type StoredManifestV2 } from "../manifest.ts";
import { archiveKey } from "../ids.ts";
import type { Storage } from "../storage/storage.ts";
import { checkedGzipMember, checkedRaw, deflatedMember, storedMember } from "./export-members.ts";
import { PackReader, checkFileSizes } from "./reader.ts";
import { decodeDbPiece, isPatched } from "./db-pieces.ts";
import { DB_GZIP_LEVEL, encodeBlob } from "./blob-codec.ts";
import { endOfArchive, fileHeader, padding } from "./tar-header.ts";

/**
 * manifest.json first, RESTORE.txt, then database/, uploads/, config/, logs/ as in a v1 archive, so `tar -xzf` and
 * `sha256sum -c` restore it by hand. The .tar.gz is a series of gzip members: each stored gzip piece as it is in its
 * pack (no second deflate: this is what makes an export several times faster than `tar -czf`), each raw piece as a
 * stored-block member, and the tar framing between them deflated. Every header field comes from the manifest (times,
 * modes, uid/gid 0) and Node's gzip header carries no time, so two exports of one backup are the same bytes. Every
 * piece is decoded and checked before its bytes go out (see checkedGzipMember), and every file's SHA-256 after.
 * Memory: the pack reader's two cached packs plus one piece; the members are produced as the consumer reads.
 */
export function exportArchive(storage: Storage, manifest: StoredManifestV2): Readable {
  checkManifestRules(manifest);
  return Readable.from(members(storage, manifest), { objectMode: false });
}

async function* members(storage: Storage, given: StoredManifestV2): AsyncGenerator<Buffer> {
  const reader = new PackReader(storage);
  try {
    yield* membersFrom(reader, given);
  } finally {
    await reader.close(); // also when the consumer stops early: the pieces read ahead settle first
  }
}

async function* membersFrom(reader: PackReader, given: StoredManifestV2): AsyncGenerator<Buffer> {
  // Parsed again so key order is the schema's: the same backup exports the same bytes from any copy of its manifest.
  const m = ManifestV2Schema.parse(given) as StoredManifestV2;
  const at = new Date(m.createdAt);
  const framing = new Framing();
  framing.entry(MANIFEST_ENTRY, Buffer.from(JSON.stringify(m, null, 2) + "\n"), at);
  // The per-backup guide reads only ids, times and table counts, which both formats share.
  framing.entry(RESTORE_GUIDE_ENTRY, Buffer.from(restoreGuide(m as unknown as Manifest)), at);
  const pieces = new Lookahead(reader, m);
  for (const name of COMPONENTS) {
    for (const f of m.components[name]?.files ?? []) {
      checkFileSizes(f); // the header below promises f.size bytes, so the pieces must add up to it
      const mtime = f.mtime ? new Date(f.mtime) : at;
      framing.add(fileHeader({ name: f.path, size: f.size, mode: f.mode & 0o777, mtime }));
      const hash = createHash("sha256");
      for (let i = 0; i < f.blobs.length; i++) {
        const piece = await pieces.next();
        hash.update(piece.plain);
        yield* framing.flush();
        yield piece.member;
      }
      // Every piece matched its own SHA-256; this catches a manifest whose piece list is not the file it records.
      const sha = hash.digest("hex");
      if (sha !== f.sha256) throw new ChecksumMismatchError(`check backup file ${f.path}: its content has SHA-256 ${sha}, the manifest records ${f.sha256}; the backup is damaged, pick another`);
      framing.add(padding(f.size));
    }
  }
  framing.add(endOfArchive());
  yield* framing.flush();
}

/** Pieces read ahead of the writer, so gunzip and the next pack's read (in libuv's pool) overlap with the output. */
const AHEAD = 4;

interface Piece { plain: Buffer; member: Buffer }

/** Every piece of the backup in export order, at most AHEAD in flight: memory is AHEAD pieces plus the cached packs. */
class Lookahead {
  private readonly todo: Generator<[BlobRef, string]>;
  private readonly queue: Promise<Piece>[] = [];

  constructor(private readonly reader: PackReader, m: StoredManifestV2) {
    this.todo = (function* () {
      for (const name of COMPONENTS) for (const f of m.components[name]?.files ?? []) for (const ref of f.blobs) yield [ref, f.path] as [BlobRef, string];
    })();
    this.fill();
  }

  next(): Promise<Piece> {
    const head = this.queue.shift()!;
    this.fill();
    return head;
  }

  private fill(): void {
    while (this.queue.length < AHEAD) {
      const step = this.todo.next();
      if (step.done) return;
      const p = this.load(...step.value);
      p.catch(() => undefined); // awaited in order by next(); a failure ahead of the writer must not go unhandled
      this.queue.push(p);
    }
  }

  /** Read, checked, and the member that carries it: the stored gzip bytes themselves, or raw bytes in stored blocks. */
  private async load(ref: BlobRef, where: string): Promise<Piece> {
    // A patched database piece has no stored member of its own: assembled and checked, it is gzipped as the writer
    // gzips a database piece (same level, no time in the header, so every export of the backup is the same bytes).
    if (isPatched(ref)) {
      const plain = await decodeDbPiece(this.reader, ref, where);
      const encoded = await encodeBlob(plain, "gzip", DB_GZIP_LEVEL);
      return { plain, member: encoded.encoding === "gzip" ? encoded.stored : await storedMember(plain) };
    }
    const stored = await this.reader.readStored(ref, where);
    if (ref.encoding === "gzip") return { plain: await checkedGzipMember(stored, ref, where), member: stored };
    const plain = await checkedRaw(stored, ref, where);
    return { plain, member: await storedMember(plain) };
  }
}

/** Tar bytes waiting to go out: headers, padding and the small entries, deflated together into the next member. */
class Framing {
  private parts: Buffer[] = [];

  add(bytes: Buffer): void {
    if (bytes.length) this.parts.push(bytes);
  }

  entry(name: string, body: Buffer, mtime: Date): void {
    this.add(fileHeader({ name, size: body.length, mode: 0o644, mtime }));
    this.add(body);
    this.add(padding(body.length));
  }

  async *flush(): AsyncGenerator<Buffer> {
    if (this.parts.length === 0) return;
    const bytes = Buffer.concat(this.parts);
    this.parts = [];
    yield await deflatedMember(bytes);
  }
}

/** The standard .tar.gz of any listed backup: a v1 backup's stored archive as it is, a v2 backup exported. */
export async function exportStream(storage: Storage, manifest: StoredManifest): Promise<Readable> {
  return manifest.formatVersion === 1 ? storage.get(archiveKey(manifest.id)) : exportArchive(storage, manifest);
}
