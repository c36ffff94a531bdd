// Safe extraction of a possibly hostile backup archive into a private staging folder (or verification only).
import { createHash } from "node:crypto";
import { constants as fsc } from "node:fs";
import { lstat, mkdir, open, readdir, chmod, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar, { type Header } from "tar-stream";
import { BackupError, ChecksumMismatchError, UnsafeArchiveError, ValidationError } from "../errors.ts";
import { MANIFEST_ENTRY, ManifestSchema, RESTORE_GUIDE_ENTRY, type FileEntry, type Manifest } from "../manifest.ts";
import { checkEntryName, normalizeEntryName, resolveLimits, TarGuard, unsafe, type ExtractLimits } from "./extract-limits.ts";

export { DEFAULT_LIMITS, type ExtractLimits } from "./extract-limits.ts";

export interface ExtractOptions {
  /** Fresh private folder (create it with mode 0o700 if absent; refuse if it exists and is not empty). Omit to only verify (hash everything, write nothing). */
  stagingDir?: string;
  /** Which entries to write to staging (others are still read and hashed); default all. */
  select?: (entryPath: string) => boolean;
  /**
   * Which entries may be in the archive at all: returns why not, or undefined. Called for every listing in the embedded
   * manifest (with the component that lists it) before anything is written, and for every entry as it arrives.
   */
  allowEntry?: (entryPath: string, type: "file" | "directory", listedUnder?: string) => string | undefined;
  limits?: Partial<ExtractLimits>;
  /** Called with bytes of compressed input consumed so far, for progress bars. */
  onProgress?: (compressedBytes: number) => void;
}

export interface ExtractResult {
  manifest: Manifest;
  archiveSha256: string;
  archiveSize: number;
  /** Tar entries seen, directories included. */
  entries: number;
  /** Sum of entry sizes (uncompressed). */
  bytes: number;
  /** Regular-file entry paths (normalised) written to staging. */
  written: string[];
}

/** The parts of tar-stream's (streamx) entry stream that we use. */
interface EntryStream extends AsyncIterable<unknown> {
  resume(): unknown;
}

const TYPE_NAMES: Record<string, string> = { link: "hard link", symlink: "symbolic link", "character-device": "character device",
  "block-device": "block device", fifo: "FIFO", "contiguous-file": "contiguous file" };

export async function extractArchive(compressed: Readable, options: ExtractOptions): Promise<ExtractResult> {
  const limits = resolveLimits(options.limits);
  const root = options.stagingDir === undefined ? undefined : await prepareStaging(options.stagingDir);
  const state = new EntryState(limits, root, options.select ?? (() => true), options.allowEntry ?? (() => undefined));

  const counter = new CompressedCounter(options.onProgress);
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  const guard = new TarGuard(limits, () => counter.size);
  const extract = tar.extract();
  state.guard = guard;

  // The stage that reports an error first is where it started; the pipeline later re-emits it on every stage.
  const origin = new Map<unknown, string>();
  const stages: [string, { once(ev: "error", fn: (err: unknown) => void): unknown }][] = [
    ["source", compressed], ["counter", counter], ["gzip", gunzip], ["guard", guard], ["tar", extract],
  ];
  for (const [stage, stream] of stages) stream.once("error", (err) => void (origin.has(err) || origin.set(err, stage)));

  let handlerError: unknown;
  let current: Promise<void> = Promise.resolve();
  extract.on("entry", (header, stream, next) => {
    // An error the entry stream itself reports came from upstream (gzip, guard, tar); anything else the handler raised.
    const upstream = new Set<unknown>();
    stream.on("error", (err) => void upstream.add(err));
    current = state.handle(header, stream).then(
      () => next(),
      (err: unknown) => {
        if (!upstream.has(err)) handlerError ??= err;
        stream.destroy();
        extract.destroy(err as Error);
      },
    );
  });

  try {
    await pipeline(compressed, counter, gunzip, guard, extract);
    await current;
  } catch (err) {
    await current; // never rejects; waiting means no file handle is still open when we throw
    throw handlerError ?? translate(err, origin.get(err), guard.currentName);
  }
  if (handlerError !== undefined) throw handlerError;
  const manifest = state.finish();
  return { manifest, archiveSha256: counter.digest(), archiveSize: counter.size, entries: state.entries, bytes: guard.totalBytes, written: state.written };
}

/** Per-entry rules: names, types, modes, duplicates, manifest listing, hashing and writing. */
class EntryState {
  guard!: TarGuard;
  entries = 0;
  readonly written: string[] = [];
  private manifest: Manifest | undefined;
  private readonly listed = new Map<string, { file: FileEntry; component: string; seen: boolean }>();
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();
  private readonly impliedDirs = new Set<string>();

  constructor(
    private readonly limits: ExtractLimits,
    private readonly root: string | undefined,
    private readonly select: (entryPath: string) => boolean,
    private readonly allow: NonNullable<ExtractOptions["allowEntry"]>,
  ) {}

  async handle(header: Header, stream: EntryStream): Promise<void> {
    const raw = header.name;
    const framed = this.guard.takeEntry();
    if (!framed || framed.size !== header.size) throw unsafe(raw, "tar framing is ambiguous (parsers disagree on entry size)");
    this.entries++;
    const type = header.type as Header["type"] | null; // tar-stream gives null for unknown typeflags
    if (type !== "file" && type !== "directory") {
      const what = type ? (TYPE_NAMES[type] ?? type) : `unknown type (typeflag ${String.fromCharCode(framed.typeflag + 48)})`;
      throw unsafe(raw, `${what} entries are not allowed`);
    }
    const mode = header.mode ?? 0;
    if (!Number.isSafeInteger(mode) || mode < 0) throw unsafe(raw, "invalid mode");
    if (mode & 0o6000) throw unsafe(raw, `setuid/setgid bit set (mode 0o${mode.toString(8)})`);
    const path = normalizeEntryName(raw, this.limits);
    const first = this.manifest === undefined;
    if (first && (path !== MANIFEST_ENTRY || type !== "file")) throw unsafe(raw, `first entry must be the file ${MANIFEST_ENTRY}`);
    this.claim(raw, path, type === "directory");

    if (!first) {
      const problem = this.allow(path, type, this.listed.get(path)?.component);
      if (problem) throw unsafe(raw, problem);
    }
    if (type === "directory") {
      if (this.root && this.select(path)) await mkdir(this.target(path), { recursive: true, mode: 0o700 });
      stream.resume();
      return;
    }
    if (first) return this.readManifest(raw, stream, header.size ?? 0, mode);

    const size = header.size ?? 0;
    const listing = this.listed.get(path);
    if (!listing && path !== RESTORE_GUIDE_ENTRY) throw unsafe(raw, "entry is not listed in the manifest");
    if (listing && listing.file.size !== size) throw unsafe(raw, `size ${size} does not match manifest size ${listing.file.size}`);
    const write = this.root !== undefined && this.select(path);
    const sha256 = await copyEntry(stream, raw, size, write ? this.target(path) : undefined, fileMode(mode, listing?.file), header.mtime);
    if (listing) {
      if (sha256 !== listing.file.sha256) {
        throw new ChecksumMismatchError(`extract archive: ${raw}: sha256 ${sha256} does not match manifest sha256 ${listing.file.sha256}`);
      }
      listing.seen = true;
    }
    if (write) this.written.push(path);
  }

  /** Returns the manifest once every listed entry has been seen. */
  finish(): Manifest {
    if (!this.manifest) throw unsafe(MANIFEST_ENTRY, "missing (the archive has no entries)");
    const missing = [...this.listed].filter(([, l]) => !l.seen).map(([p]) => p);
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).join(", ") + (missing.length > 5 ? ` and ${missing.length - 5} more` : "");
      throw unsafe(missing[0]!, `missing entries listed in the manifest: ${shown}`);
    }
    return this.manifest;
  }

  private async readManifest(raw: string, stream: EntryStream, size: number, mode: number): Promise<void> {
    if (size > this.limits.maxManifestBytes) throw unsafe(raw, `manifest is ${size} bytes (limit ${this.limits.maxManifestBytes})`);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch (err) {
      throw unsafe(raw, `invalid JSON (${(err as Error).message})`);
    }
    const parsed = ManifestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw unsafe(raw, `does not match the manifest schema (${issue?.path.join(".") || "root"}: ${issue?.message})`);
    }
    for (const [name, component] of Object.entries(parsed.data.components)) {
      for (const file of component.files) {
        const path = checkEntryName(file.path, this.limits);
        if (typeof path !== "string") throw unsafe(raw, `lists an unsafe path ${JSON.stringify(file.path)} (${path.problem})`);
        if (path === MANIFEST_ENTRY) throw unsafe(raw, `lists ${MANIFEST_ENTRY} itself`);
        if (this.listed.has(path)) throw unsafe(raw, `lists ${file.path} twice`);
        // Named by the listed entry, so a report can tell which component is at fault.
        const problem = this.allow(path, "file", name);
        if (problem) throw unsafe(file.path, `${problem} (as listed in ${MANIFEST_ENTRY})`);
        this.listed.set(path, { file, component: name, seen: false });
      }
    }
    this.manifest = parsed.data;
    if (this.root && this.select(MANIFEST_ENTRY)) {
      const handle = await createFile(this.target(MANIFEST_ENTRY));
      try {
        await handle.writeFile(bytes);
        await handle.chmod(fileMode(mode, undefined));
      } finally {
        await handle.close();
      }
      this.written.push(MANIFEST_ENTRY);
    }
  }

  /** Rejects duplicates and file/directory clashes, including directories implied by deeper names. */
  private claim(raw: string, path: string, isDir: boolean): void {
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join("/");
      if (this.files.has(parent)) throw unsafe(raw, `parent ${parent} is a file in this archive`);
      this.impliedDirs.add(parent);
    }
    if (this.files.has(path)) throw unsafe(raw, "duplicate entry name");
    if (isDir) {
      if (this.dirs.has(path)) throw unsafe(raw, "duplicate directory entry");
      this.dirs.add(path);
    } else {
      if (this.dirs.has(path) || this.impliedDirs.has(path)) throw unsafe(raw, "a directory with the same name exists");
      this.files.add(path);
    }
  }

  private target(path: string): string {
    const target = join(this.root!, ...path.split("/"));
    if (!target.startsWith(this.root! + sep)) throw unsafe(path, "resolves outside the staging folder");
    return target;
  }
}

/** Hashes an entry as it streams and, if `target` is set, writes it there; returns the hex SHA-256. */
async function copyEntry(stream: EntryStream, raw: string, size: number, target: string | undefined, mode: number, mtime?: Date): Promise<string> {
  const hash = createHash("sha256");
  let seen = 0;
  const handle = target === undefined ? undefined : await createFile(target);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > size) throw unsafe(raw, "entry is longer than its header says");
      hash.update(chunk);
      // One awaited write at a time is the backpressure: tar-stream waits until we ask for the next chunk.
      for (let off = 0; handle && off < chunk.length; ) off += (await handle.write(chunk, off)).bytesWritten;
    }
    if (seen !== size) throw unsafe(raw, "entry is shorter than its header says");
    await handle?.chmod(mode);
    // Restored files keep their modification times, as tar -x does.
    if (handle && mtime && !Number.isNaN(mtime.getTime())) await handle.utimes(mtime, mtime);
  } finally {
    await handle?.close();
  }
  return hash.digest("hex");
}

async function createFile(target: string): Promise<FileHandle> {
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  // O_EXCL + O_NOFOLLOW: never overwrite, never follow a link someone slipped into staging.
  return open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0), 0o600);
}

/** Drops setuid/setgid/sticky, and group/other write unless the manifest grants it too. */
function fileMode(headerMode: number, listed: FileEntry | undefined): number {
  const allowedWrite = 0o022 & (listed?.mode ?? 0);
  return headerMode & 0o777 & ~(0o022 & ~allowedWrite);
}

async function prepareStaging(dir: string): Promise<string> {
  const root = resolve(dir);
  const existing = await lstat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (existing === undefined) {
    await mkdir(root, { recursive: true, mode: 0o700 });
  } else if (!existing.isDirectory()) {
    throw new ValidationError(`extract archive: staging folder ${root} exists and is not a directory`);
  } else if ((await readdir(root)).length > 0) {
    throw new ValidationError(`extract archive: staging folder ${root} is not empty; use a fresh folder`);
  }
  await chmod(root, 0o700);
  return root;
}

/** Hashes and counts the compressed bytes as they pass, and reports progress. */
class CompressedCounter extends Transform {
  size = 0;
  private readonly hash = createHash("sha256");
  constructor(private readonly onProgress?: (compressedBytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    try {
      this.onProgress?.(this.size);
    } catch (err) {
      return cb(err as Error);
    }
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

/** Names gzip and tar failures; errors from the caller's stream (I/O) pass through unchanged. */
function translate(err: unknown, stage: string | undefined, where: string): unknown {
  if (err instanceof BackupError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (stage === "gzip" || (typeof code === "string" && code.startsWith("Z_"))) {
    const what = code === "Z_BUF_ERROR" ? "truncated gzip stream" : "corrupt gzip data";
    // zlib reports errors while its output is still queued, so the entry being read says little; name the archive.
    return new UnsafeArchiveError(`extract archive: archive: ${what} (${message})`, { cause: err });
  }
  if (stage === "tar") return new UnsafeArchiveError(`extract archive: ${where}: corrupt or truncated tar data (${message})`, { cause: err });
  return err;
}
