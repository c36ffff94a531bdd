// Test helper: builds good and hostile .tar.gz backups in memory with tar-stream pack, zlib and hand-made tar blocks.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import tar, { type Header } from "tar-stream";
import { MANIFEST_ENTRY, RESTORE_GUIDE_ENTRY, type Manifest } from "../../core/manifest.ts";

export interface TestEntry {
  name: string;
  type?: Header["type"];
  mode?: number;
  data?: Buffer | string;
  linkname?: string;
  pax?: Record<string, string>;
  /** Raw header bytes (see rawHeader) spliced in instead of a packed entry; must include data and padding. */
  raw?: Buffer;
}

export interface TestFile {
  path: string;
  data: Buffer | string;
  mode?: number;
}

export const sha256 = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

export function manifestFor(files: TestFile[], patch: (m: Manifest) => void = () => {}): Manifest {
  const manifest: Manifest = {
    formatVersion: 1,
    tool: "colab-backup test",
    id: "20250101-000000-test",
    name: "test backup",
    type: "manual",
    description: "built by test-archives.ts",
    createdAt: "2025-01-01T00:00:00.000Z",
    host: "test-host",
    components: {},
  };
  for (const file of files) {
    const component = file.path.split("/")[0]!;
    const record = (manifest.components[component] ??= { status: "included", fileCount: 0, totalSize: 0, files: [] });
    const size = Buffer.byteLength(file.data);
    record.files.push({ path: file.path, size, sha256: sha256(file.data), mode: file.mode ?? 0o644 });
    record.fileCount++;
    record.totalSize += size;
  }
  patch(manifest);
  return manifest;
}

/** manifest.json, RESTORE.txt, then the files, as the real writer lays them out. */
export function backupEntries(files: TestFile[], manifest: Manifest = manifestFor(files)): TestEntry[] {
  return [
    { name: MANIFEST_ENTRY, data: JSON.stringify(manifest, null, 2), mode: 0o600 },
    { name: RESTORE_GUIDE_ENTRY, data: "Restore with: colab-backup restore <id>\n", mode: 0o644 },
    ...files.map((f) => ({ name: f.path, data: f.data, mode: f.mode ?? 0o644 })),
  ];
}

export async function tarEntries(entries: TestEntry[], opts: { finalize?: boolean } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    if (entry.raw) {
      pack.push(entry.raw); // streamx Readable: lets hostile bytes through between well-formed entries
      continue;
    }
    const data = Buffer.from(entry.data ?? "");
    const header = {
      name: entry.name,
      type: entry.type ?? "file",
      mode: entry.mode,
      linkname: entry.linkname,
      pax: entry.pax,
      mtime: new Date("2025-01-01T00:00:00Z"),
    };
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      pack.entry(header, data, cb);
    });
  }
  if (opts.finalize !== false) pack.finalize();
  else pack.push(null);
  await done;
  return Buffer.concat(chunks);
}

/** Gzips `tarBytes` as `members` concatenated gzip members, like the parallel writer does. */
export function gzipMembers(tarBytes: Buffer, members = 1): Buffer {
  const parts: Buffer[] = [];
  const step = Math.ceil(tarBytes.length / members);
  for (let off = 0; off < tarBytes.length; off += step) parts.push(gzipSync(tarBytes.subarray(off, off + step)));
  return Buffer.concat(parts);
}

export async function buildArchive(entries: TestEntry[], members = 1): Promise<Buffer> {
  return gzipMembers(await tarEntries(entries), members);
}

/** One ustar header block (plus zeroed data and padding) with a valid checksum, for types and sizes pack cannot make. */
export function rawHeader(h: { name: string; typeflag: string; size: number; mode?: number; dataBytes?: number }): Buffer {
  const block = Buffer.alloc(512);
  block.write(h.name, 0, 100, "utf8");
  block.write(((h.mode ?? 0o644).toString(8).padStart(7, "0")) + "\0", 100, "latin1");
  block.write("0000000\0", 108, "latin1");
  block.write("0000000\0", 116, "latin1");
  block.write(h.size.toString(8).padStart(11, "0") + "\0", 124, "latin1");
  block.write("00000000000\0", 136, "latin1");
  block.write(h.typeflag, 156, "latin1");
  block.write("ustar\x0000", 257, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  const dataBytes = h.dataBytes ?? h.size;
  return Buffer.concat([block, Buffer.alloc(Math.ceil(dataBytes / 512) * 512)]);
}
