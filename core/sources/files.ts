// File components: walks uploads, picks config files, gzips logs into the work folder, and hashes each file once.
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { sha256File } from "../archive/hashing.ts";
import type { ArchiveSource } from "../archive/write.ts";
import { mapInOrder } from "../v2/bounded.ts";

export interface CollectedComponent {
  sources: ArchiveSource[];
  missing?: string;
  /** Things found but not archived (symlinks, sockets...), with why. */
  skipped: string[];
}

/** Regular files under `root`, relative paths with "/" separators, sorted so archives are reproducible. */
export async function walkFiles(root: string, accept: (rel: string) => boolean = () => true): Promise<{ files: string[]; skipped: string[] }> {
  type Listed = { name: string; isDir: boolean; isFile: boolean };
  // Folders are listed many at once, a level at a time: an uploads tree is often a folder per file (the bench's: 4,068
  // for 3,914 files), and listed one after another each readdir waited its own trip to libuv's pool (a restore's
  // pre-restore backup read no file until the walk ended). The order is then the serial depth-first walk's.
  const listings = new Map<string, Listed[]>();
  let level = [""];
  while (level.length > 0) {
    // One readdir per folder: iterating an opendir handle costs a thread-pool trip per batch, 5x slower on big trees.
    const listed = await mapInOrder(level, LIST_AT_ONCE, (rel) => readdir(rel ? path.join(root, rel) : root, { withFileTypes: true }));
    const next: string[] = [];
    level.forEach((rel, i) => {
      const names = listed[i]!.map((d) => ({ name: d.name, isDir: d.isDirectory(), isFile: d.isFile() }));
      names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      listings.set(rel, names);
      for (const d of names) if (d.isDir) next.push(rel ? `${rel}/${d.name}` : d.name);
    });
    level = next;
  }
  const files: string[] = [];
  const skipped: string[] = [];
  const visit = (rel: string) => {
    for (const d of listings.get(rel)!) {
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDir) visit(childRel);
      else if (d.isFile) {
        if (accept(childRel)) files.push(childRel);
      } else skipped.push(`${childRel}: not a regular file or folder (links and special files are not backed up)`);
    }
  };
  visit("");
  return { files, skipped };
}

/** Folder listings in flight at once: enough to keep libuv's four threads busy. */
const LIST_AT_ONCE = 16;

async function describe(entry: string, file: string): Promise<ArchiveSource> {
  const st = await stat(file);
  const { sha256 } = await sha256File(file, st.size);
  return { path: entry, file, size: st.size, mode: st.mode & 0o7777 & ~0o6000, mtime: st.mtime, sha256 };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

export async function collectUploads(dir: string): Promise<CollectedComponent> {
  if (!(await isDir(dir))) return { sources: [], skipped: [], missing: `no uploads folder at ${dir}` };
  const { files, skipped } = await walkFiles(dir);
  const sources: ArchiveSource[] = [];
  for (const rel of files) sources.push(await describe(`uploads/${rel}`, path.join(dir, rel)));
  return { sources, skipped };
}

/** `files` are absolute paths under `crmRoot`; entries keep their path relative to it under "config/". */
export async function collectConfig(crmRoot: string, files: string[]): Promise<CollectedComponent> {
  const sources: ArchiveSource[] = [];
  const absent: string[] = [];
  for (const file of files) {
    const rel = path.relative(crmRoot, file).split(path.sep).join("/");
    // Secrets never leave the host in a backup, whatever the file list says.
    if (/(^|\/)\.env($|\.(?!example$))/.test(rel)) throw new Error(`collect config: refusing to archive ${rel}: .env files hold secrets`);
    try {
      if (!(await lstat(file)).isFile()) {
        absent.push(`${rel} (not a regular file)`);
        continue;
      }
    } catch {
      absent.push(rel);
      continue;
    }
    sources.push(await describe(`config/${rel}`, file));
  }
  const missing = sources.length === 0 ? `no config files found under ${crmRoot}` : undefined;
  return { sources, missing, skipped: absent.map((a) => `${a}: not present`) };
}

/** Each *.log is gzipped into `workDir` first: the tar header needs the compressed size before the bytes. */
export async function collectLogs(dir: string, workDir: string): Promise<CollectedComponent> {
  if (!(await isDir(dir))) return { sources: [], skipped: [], missing: `no logs folder at ${dir}` };
  const { files, skipped } = await walkFiles(dir, (rel) => rel.endsWith(".log"));
  const sources: ArchiveSource[] = [];
  for (const rel of files) {
    const src = path.join(dir, rel);
    const gz = path.join(workDir, "logs", `${rel}.gz`);
    await mkdir(path.dirname(gz), { recursive: true });
    const st = await stat(src);
    // Copy only the bytes present now: a log being appended to is captured up to this point.
    const input = st.size === 0 ? Readable.from([]) : createReadStream(src, { start: 0, end: st.size - 1 });
    await pipeline(input, createGzip(), createWriteStream(gz));
    const described = await describe(`logs/${rel}.gz`, gz);
    sources.push({ ...described, mode: st.mode & 0o777, mtime: st.mtime, originalSize: st.size });
  }
  return { sources, skipped };
}
