// The filesystem Storage: keys are files under a root, written via fsynced temp files so a crash never leaves a partial object.
import { createHash, randomBytes, type Hash } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { ConfigError, ConflictError, NotFoundError, ObjectExistsError, StoreError, ValidationError } from "../errors.ts";
import type { ObjectInfo, PutOptions, Storage } from "./storage.ts";
import { removeAbandonedEntries, workName } from "../work-dir.ts";
import { nameFullDisk } from "../disk-full.ts";

/**
 * A folder whose mtime or ctime is this recent gives no listing token: a second change within the same timestamp tick
 * (1 s on some filesystems, a clock skewed against an NFS server's) could leave both equal, as git's "racily clean".
 */
export const LISTING_TOKEN_SETTLE_MS = 2_000;

/** First key segment that no store accepts: the fs store keeps its temp files there. */
export const RESERVED_SEGMENT = "temp";

/** Throws ValidationError unless `key` is a safe "/"-separated relative key. Shared by every Storage. */
export function validateKey(key: string): void {
  const problem = keyProblem(key, false);
  if (problem) throw new ValidationError(`invalid storage key ${JSON.stringify(key)}: ${problem}`);
}

/** Like validateKey, but "" and a trailing "/" or partial last segment are allowed. */
export function validatePrefix(prefix: string): void {
  const problem = keyProblem(prefix, true);
  if (problem) throw new ValidationError(`invalid storage prefix ${JSON.stringify(prefix)}: ${problem}`);
}

function keyProblem(key: string, isPrefix: boolean): string | undefined {
  if (typeof key !== "string") return "it must be a string";
  if (key === "") return isPrefix ? undefined : "it is empty";
  if (key.includes("\0")) return "it contains a NUL byte";
  if (key.includes("\\")) return 'it contains a backslash; use "/" between segments';
  if (key.startsWith("/") || /^[A-Za-z]:/.test(key)) return "it must be relative, not absolute";
  const segments = key.split("/");
  // A prefix may end in "/" or in a partial segment ("daily/2024-"), which is matched textually, not as a path.
  const checked = isPrefix ? segments.slice(0, -1) : segments;
  for (const s of checked) {
    if (s === "") return 'it has an empty segment ("//" or a trailing "/")';
    if (s === "." || s === "..") return `it has a "${s}" segment`;
  }
  if (!isPrefix && segments[0] === RESERVED_SEGMENT) return `keys under "${RESERVED_SEGMENT}/" are reserved for temp files`;
  return undefined;
}

/** Orders keys by UTF-8 bytes, which is how S3 lists them, so every store sorts alike. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new ValidationError(`storage streams must yield bytes or strings, got ${typeof chunk}`);
}

// Directory fsync makes a rename/link durable; some platforms and filesystems refuse it, which we accept.
export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (err) {
    if (!["EISDIR", "EPERM", "EINVAL", "EBADF", "ENOTSUP", "EACCES"].includes(errCode(err) ?? "")) throw err;
  } finally {
    await fh?.close();
  }
}

/** Makes a written file durable, and its name in its folder with it. */
export async function syncFileAndDir(file: string): Promise<void> {
  const fh = await open(file, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDir(path.dirname(file));
}

export class FsStorage implements Storage {
  readonly description: string;
  readonly root: string;
  readonly tempDir: string;
  /** The temp dir relative to root as a key prefix ("temp/"), or undefined when it lives elsewhere. */
  private readonly tempPrefix: string | undefined;

  constructor(root: string, options?: { tempDir?: string }) {
    this.root = path.resolve(root);
    this.tempDir = path.resolve(this.root, options?.tempDir ?? RESERVED_SEGMENT);
    this.description = this.root;
    const rel = path.relative(this.root, this.tempDir);
    if (rel === "") throw new ConfigError(`the temp dir of the store at ${this.root} must not be the store root itself`);
    const inside = !rel.startsWith("..") && !path.isAbsolute(rel);
    this.tempPrefix = inside ? rel.split(path.sep).join("/") + "/" : undefined;
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<ObjectInfo> {
    const dest = this.pathOf(key);
    const temp = await this.writeTemp("put", body);
    try {
      // rename (and link) keep the inode and mtime, so the temp file's stats are the stored object's version.
      const info = infoOf(key, temp.stats);
      await this.ensureParent(key, dest);
      try {
        // link() fails with EEXIST instead of replacing: the no-overwrite put, as If-None-Match: * on S3.
        if (opts.ifAbsent) await link(temp.path, dest).then(() => rm(temp.path, { force: true }));
        else {
          if (opts.ifVersion !== undefined && (await this.stat(key))?.version !== opts.ifVersion) {
            throw new ConflictError(`replace "${key}" in ${this.root}: it changed or went since it was read; nothing was replaced`);
          }
          await rename(temp.path, dest);
        }
      } catch (err) {
        if (err instanceof ConflictError) throw err;
        if (opts.ifAbsent && errCode(err) === "EEXIST") throw new ObjectExistsError(`store "${key}" in ${this.root}: it exists, and it is written once; nothing was replaced`);
        throw this.placeError(key, err);
      }
      await syncDir(path.dirname(dest));
      return info;
    } catch (err) {
      await rm(temp.path, { force: true });
      throw err;
    }
  }

  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    const dest = this.pathOf(key);
    // The content is complete and fsynced before link() makes it visible, so readers never see a partial object.
    const temp = await this.writeTemp("excl", body);
    try {
      await this.ensureParent(key, dest);
      try {
        await link(temp.path, dest);
      } catch (err) {
        if (errCode(err) === "EEXIST") return false;
        if (["ENOTSUP", "EOPNOTSUPP", "EPERM", "ENOSYS"].includes(errCode(err) ?? ""))
          throw new ConfigError(
            `the store at ${this.root} does not support hard links, which exclusive creation (locks) needs; use a local filesystem such as ext4, xfs or apfs`,
            { cause: err },
          );
        throw this.placeError(key, err);
      }
      await syncDir(path.dirname(dest));
      return true;
    } finally {
      await rm(temp.path, { force: true });
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const fh = await this.openFile(key);
    try {
      return fh.createReadStream(range && { start: range.start, end: clampRange(key, range, (await fh.stat()).size) });
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async openFile(key: string): Promise<FileHandle> {
    let fh;
    try {
      fh = await open(this.pathOf(key), "r");
    } catch (err) {
      throw this.readError(key, err);
    }
    try {
      if (!(await fh.stat()).isFile()) throw new NotFoundError(`no object "${key}" in ${this.description}`);
      return fh;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      throw this.readError(key, err);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const file = this.pathOf(key);
    try {
      const st = await stat(file);
      return st.isFile() ? infoOf(key, st) : null;
    } catch (err) {
      if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    validatePrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const out: ObjectInfo[] = [];
    await this.walk(slash >= 0 ? prefix.slice(0, slash) : "", prefix, out);
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string, opts?: { ifVersion?: string }): Promise<boolean> {
    const file = this.pathOf(key);
    if (opts?.ifVersion !== undefined) {
      // Between this stat and the unlink another writer may replace the file: the documented narrow fs race.
      const current = await this.stat(key);
      if (!current || current.version !== opts.ifVersion) return false;
    }
    try {
      await unlink(file);
    } catch (err) {
      const code = errCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") return opts?.ifVersion === undefined;
      if (code === "EISDIR" || code === "EPERM") {
        if ((await this.stat(key)) === null) return opts?.ifVersion === undefined;
      }
      throw err;
    }
    return true;
  }

  /**
   * Every folder list(prefix) would walk, by stat and names: a put renames (or links) into its folder and a delete
   * unlinks from it, and either sets the folder's mtime and ctime; ctime cannot be set back by hand. A file rewritten
   * in place keeps its folder's times, so it does not change the token (see Storage.listingToken).
   */
  async listingToken(prefix: string): Promise<string | null> {
    validatePrefix(prefix);
    if (prefix !== "" && !prefix.endsWith("/")) return null;
    const hash = createHash("sha256");
    return (await this.tokenOf(prefix.slice(0, -1), hash, Date.now() - LISTING_TOKEN_SETTLE_MS)) ? hash.digest("hex") : null;
  }

  async usage(prefix = ""): Promise<number> {
    return (await this.list(prefix)).reduce((sum, o) => sum + o.size, 0);
  }

  /** Removes temp files that puts of dead processes left behind; returns their names. */
  cleanTempDir(): Promise<string[]> {
    return removeAbandonedEntries(this.tempDir);
  }

  private pathOf(key: string): string {
    validateKey(key);
    if (this.inTempDir(key))
      throw new ValidationError(`invalid storage key ${JSON.stringify(key)}: "${this.tempPrefix}" holds the store's temp files`);
    return path.join(this.root, ...key.split("/"));
  }

  private inTempDir(key: string): boolean {
    return this.tempPrefix !== undefined && (key + "/").startsWith(this.tempPrefix);
  }

  private async writeTemp(kind: string, body: Readable | Buffer | string) {
    await mkdir(this.tempDir, { recursive: true });
    const tempPath = path.join(this.tempDir, workName(kind, `${Date.now()}-${randomBytes(6).toString("hex")}.tmp`));
    const fh = await open(tempPath, "wx", 0o644);
    try {
      if (typeof body === "string" || Buffer.isBuffer(body)) {
        await fh.writeFile(body);
      } else {
        // Awaiting each write before pulling the next chunk is the backpressure: we never buffer ahead of the disk.
        for await (const chunk of body) {
          const buf = toBuffer(chunk);
          let off = 0;
          while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
        }
      }
      await fh.sync();
      const st = await fh.stat();
      await fh.close();
      return { path: tempPath, stats: st };
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(tempPath, { force: true });
      throw await nameFullDisk(err, this.root, `write to the store ${this.root}`);
    }
  }

  private async ensureParent(key: string, dest: string): Promise<void> {
    let created: string | undefined;
    try {
      created = await mkdir(path.dirname(dest), { recursive: true });
    } catch (err) {
      throw this.placeError(key, err);
    }
    // New directories must reach the disk too, or the object can vanish with them after a power cut.
    if (created) await syncDir(path.dirname(created));
  }

  private placeError(key: string, err: unknown): Error {
    const code = errCode(err);
    if (code === "EXDEV")
      return new ConfigError(`the temp dir ${this.tempDir} must be on the same filesystem as the store ${this.root}`, { cause: err });
    // Our keys never collide with each other, so a file where a folder should be (or the reverse) is damage in the store.
    if (code === "ENOTDIR" || code === "EEXIST")
      return new StoreError(`cannot store "${key}": a parent of it is already an object in ${this.description}`, { cause: err });
    if (code === "EISDIR" || code === "ENOTEMPTY")
      return new StoreError(`cannot store "${key}": it is already a folder of other keys in ${this.description}`, { cause: err });
    return err instanceof Error ? err : new Error(String(err));
  }

  private readError(key: string, err: unknown): Error {
    const code = errCode(err);
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR")
      return new NotFoundError(`no object "${key}" in ${this.description}`, { cause: err });
    return err instanceof Error ? err : new Error(String(err));
  }

  /** Adds the folder at dirKey and its sub-folders to `hash`; false when one of them changed too recently to vouch for. */
  private async tokenOf(dirKey: string, hash: Hash, settledBefore: number): Promise<boolean> {
    const dir = dirKey ? path.join(this.root, ...dirKey.split("/")) : this.root;
    let st, entries;
    try {
      st = await stat(dir, { bigint: true });
      if (!st.isDirectory()) throw Object.assign(new Error("not a folder"), { code: "ENOTDIR" });
      if (Number(st.mtimeNs / 1_000_000n) > settledBefore || Number(st.ctimeNs / 1_000_000n) > settledBefore) return false;
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errCode(err) !== "ENOENT" && errCode(err) !== "ENOTDIR") throw err;
      hash.update(`${dirKey}\0absent\n`); // list() finds nothing there either
      return true;
    }
    hash.update(`${dirKey}\0${st.dev}\0${st.ino}\0${st.mtimeNs}\0${st.ctimeNs}\0${entries.length}\n`);
    const subdirs: string[] = [];
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      hash.update(`${e.name}${e.isDirectory() ? "/" : ""}\0`);
      const key = dirKey ? `${dirKey}/${e.name}` : e.name;
      if (e.isDirectory() && !keyProblem(key, false) && !this.inTempDir(key)) subdirs.push(key);
    }
    for (const sub of subdirs) if (!(await this.tokenOf(sub, hash, settledBefore))) return false;
    return true;
  }

  private async walk(dirKey: string, prefix: string, out: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dirKey ? path.join(this.root, ...dirKey.split("/")) : this.root, { withFileTypes: true });
    } catch (err) {
      if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return;
      throw err;
    }
    const files: string[] = [];
    for (const e of entries) {
      const key = dirKey ? `${dirKey}/${e.name}` : e.name;
      // keyProblem also skips the reserved temp/ segment and names no key could have.
      if (keyProblem(key, false) || this.inTempDir(key)) continue;
      if (e.isDirectory()) {
        // Descend only where keys can still match: "daily/2024-" needs daily/, never weekly/.
        if (prefix.startsWith(key + "/") || (key + "/").startsWith(prefix)) await this.walk(key, prefix, out);
      } else if (e.isFile() && key.startsWith(prefix)) {
        files.push(key);
      }
    }
    const infos = await Promise.all(files.map((k) => this.stat(k)));
    for (const info of infos) if (info) out.push(info);
  }
}

function infoOf(key: string, st: Stats): ObjectInfo {
  return { key, size: st.size, modified: st.mtime, version: `${st.mtimeMs}-${st.size}-${st.ino}` };
}

/** Validates a byte range for an object of `size` bytes; returns the end clamped to the object, as HTTP and S3 do. */
export function clampRange(key: string, range: { start: number; end: number }, size: number): number {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start)
    throw new ValidationError(`invalid byte range ${start}-${end} for "${key}": need whole numbers with 0 <= start <= end`);
  if (start >= size)
    throw new ValidationError(`invalid byte range for "${key}": start ${start} is past the end of the ${size}-byte object`);
  return Math.min(end, size - 1);
}
