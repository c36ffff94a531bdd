// Tests for the safe extractor: good archives round-trip; every hostile class is rejected with nothing written outside staging.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { BackupError, ChecksumMismatchError, UnsafeArchiveError, ValidationError } from "../errors.ts";
import { extractArchive, type ExtractLimits, type ExtractOptions } from "./extract.ts";
import {
  backupEntries, buildArchive, gzipMembers, manifestFor, rawHeader, sha256, tarEntries, type TestEntry, type TestFile,
} from "../../test/helpers/test-archives.ts";

const FILES: TestFile[] = [
  { path: "database/dev.db", data: randomBytes(200_000), mode: 0o600 },
  { path: "uploads/a/b.png", data: randomBytes(3000), mode: 0o644 },
  { path: "config/package.json", data: '{"name":"crm"}\n', mode: 0o664 },
  { path: "logs/app.log.gz", data: gzipSync("GET / 200\n"), mode: 0o640 },
  { path: "uploads/empty.txt", data: "", mode: 0o444 },
];

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempParent(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "extract-test-"));
  temps.push(dir);
  return dir;
}

/** Feeds the archive in odd-sized chunks so tar blocks straddle chunk boundaries. */
function feed(archive: Buffer, chunk = 7001): Readable {
  const parts: Buffer[] = [];
  for (let off = 0; off < archive.length; off += chunk) parts.push(archive.subarray(off, off + chunk));
  return Readable.from(parts);
}

async function extractTo(archive: Buffer, opts: Omit<ExtractOptions, "stagingDir"> = {}) {
  const parent = await tempParent();
  const staging = join(parent, "staging");
  const result = await extractArchive(feed(archive), { ...opts, stagingDir: staging });
  return { parent, staging, result };
}

const withFiles = (extra: TestEntry[], files = FILES) => buildArchive([...backupEntries(files), ...extra]);

describe("extractArchive: valid archives", () => {
  it("extracts byte-identically with modes kept, and reports the archive hash and size", async () => {
    const archive = await withFiles([]);
    const { staging, result } = await extractTo(archive);
    for (const file of FILES) {
      const target = join(staging, file.path);
      expect(sha256(await readFile(target))).toBe(sha256(file.data)); // toEqual on big Buffers is very slow
      expect((await stat(target)).mode & 0o7777).toBe(file.mode);
    }
    expect((await stat(staging)).mode & 0o777).toBe(0o700);
    expect((await stat(join(staging, "uploads/a"))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(join(staging, "manifest.json"), "utf8"))).toEqual(result.manifest);
    expect(result.archiveSha256).toBe(sha256(archive));
    expect(result.archiveSize).toBe(archive.length);
    expect(result.entries).toBe(FILES.length + 2);
    expect(result.written.sort()).toEqual(["RESTORE.txt", "manifest.json", ...FILES.map((f) => f.path)].sort());
  });

  it("is accepted by GNU tar", async () => {
    const parent = await tempParent();
    await writeFile(join(parent, "b.tar.gz"), await withFiles([]));
    const listed = execFileSync("tar", ["-tzf", join(parent, "b.tar.gz")], { encoding: "utf8" }).trim().split("\n");
    expect(listed).toEqual(["manifest.json", "RESTORE.txt", ...FILES.map((f) => f.path)]);
  });

  it("reads a gzip stream made of several concatenated members", async () => {
    const tarBytes = await tarEntries(backupEntries(FILES));
    const archive = gzipMembers(tarBytes, 2);
    expect(archive.length).not.toBe(gzipSync(tarBytes).length);
    const { staging, result } = await extractTo(archive);
    expect(sha256(await readFile(join(staging, "database/dev.db")))).toBe(sha256(FILES[0]!.data));
    expect(result.archiveSha256).toBe(sha256(archive));
  });

  it("only verifies when no staging folder is given, and still rejects a bad hash", async () => {
    const result = await extractArchive(feed(await withFiles([])), {});
    expect(result.written).toEqual([]);
    expect(result.manifest.components.database?.files[0]?.path).toBe("database/dev.db");
    const bad = manifestFor(FILES, (m) => void (m.components.logs!.files[0]!.sha256 = sha256("other")));
    await expect(extractArchive(feed(await buildArchive(backupEntries(FILES, bad))), {})).rejects.toThrow(ChecksumMismatchError);
  });

  it("writes only selected entries but checks every hash", async () => {
    const select = (p: string) => p.startsWith("uploads/");
    const { staging, result } = await extractTo(await withFiles([]), { select });
    expect(result.written.sort()).toEqual(["uploads/a/b.png", "uploads/empty.txt"]);
    expect(await readdir(staging)).toEqual(["uploads"]);
    const bad = manifestFor(FILES, (m) => void (m.components.database!.files[0]!.sha256 = sha256("other")));
    await expect(extractTo(await buildArchive(backupEntries(FILES, bad)), { select })).rejects.toThrow(/database\/dev.db: sha256/);
  });

  it("drops group/other write the manifest does not grant, and the sticky bit", async () => {
    const files = [{ path: "uploads/w.txt", data: "w", mode: 0o644 }];
    const entries = backupEntries(files).map((e) => (e.name === "uploads/w.txt" ? { ...e, mode: 0o1666 } : e));
    const { staging } = await extractTo(await buildArchive(entries));
    expect((await stat(join(staging, "uploads/w.txt"))).mode & 0o7777).toBe(0o644);
  });

  it("accepts long names carried in pax headers, reports progress, and refuses a non-empty staging folder", async () => {
    const files = [...FILES, { path: `uploads/${"n".repeat(200)}.png`, data: "long", mode: 0o644 }];
    const seen: number[] = [];
    const archive = await withFiles([], files);
    const { staging } = await extractTo(archive, { onProgress: (n) => seen.push(n) });
    expect(await readFile(join(staging, files[5]!.path), "utf8")).toBe("long");
    expect(seen.at(-1)).toBe(archive.length);
    await expect(extractArchive(feed(archive), { stagingDir: staging })).rejects.toThrow(ValidationError);
  });

  it("leaves no file handle open when it fails mid-file", async () => {
    const archive = await withFiles([]);
    const before = (await readdir("/proc/self/fd")).length;
    await expect(extractTo(archive.subarray(0, archive.length / 2))).rejects.toThrow(/truncated gzip/);
    expect((await readdir("/proc/self/fd")).length).toBeLessThanOrEqual(before);
  });
});

type Case = {
  name: string;
  build: (parent: string) => Promise<Buffer>;
  error?: typeof BackupError;
  message: string;
  limits?: Partial<ExtractLimits>;
};

const file = (name: string, extra: Partial<TestEntry> = {}): TestEntry => ({ name, data: "x", ...extra });
const goodTar = () => tarEntries(backupEntries(FILES));
const corrupt = async (at: (gz: Buffer) => number) => {
  const gz = await withFiles([]);
  const i = at(gz);
  gz[i] = gz[i]! ^ 0xff;
  return gz;
};
const zeros = Buffer.alloc(2_000_000);
const END = Buffer.alloc(1024);

const CASES: Case[] = [
  { name: "absolute path", build: (p) => withFiles([file(`${p}/evil`)]), message: "absolute name" },
  { name: "'..' segment", build: () => withFiles([file("../evil")]), message: "'..' segment" },
  { name: "nested '..'", build: () => withFiles([file("uploads/../../evil")]), message: "'..' segment" },
  { name: "backslash", build: () => withFiles([file("uploads\\..\\..\\evil")]), message: "backslash" },
  { name: "NUL in pax path", build: () => withFiles([file("uploads/n", { pax: { path: "uploads/nul\0evil" } })]), message: "NUL byte" },
  { name: "empty name", build: () => withFiles([file("./", { type: "directory", data: undefined })]), message: "empty name after normalisation" },
  { name: "symlink", build: () => withFiles([file("uploads/l", { type: "symlink", linkname: "../../evil", data: undefined })]), message: "symbolic link entries" },
  { name: "hard link", build: () => withFiles([file("uploads/h", { type: "link", linkname: "/etc/passwd", data: undefined })]), message: "hard link entries" },
  { name: "char device", build: () => withFiles([file("uploads/c", { type: "character-device", data: undefined })]), message: "character device entries" },
  { name: "block device", build: () => withFiles([file("uploads/b", { type: "block-device", data: undefined })]), message: "block device entries" },
  { name: "FIFO", build: () => withFiles([file("uploads/f", { type: "fifo", data: undefined })]), message: "FIFO entries" },
  { name: "contiguous file", build: () => withFiles([file("uploads/k", { type: "contiguous-file" })]), message: "contiguous file entries" },
  { name: "unknown type", build: () => withFiles([{ name: "", raw: rawHeader({ name: "uploads/s", typeflag: "S", size: 10 }) }]), message: "unknown type (typeflag S)" },
  { name: "setuid", build: () => withFiles([file("uploads/a/b.png", { mode: 0o4755, data: FILES[1]!.data })]), message: "setuid/setgid bit set" },
  { name: "setgid", build: () => withFiles([file("uploads/d/", { type: "directory", mode: 0o2775, data: undefined })]), message: "setuid/setgid bit set" },
  { name: "duplicate name", build: () => withFiles([file("uploads/a/b.png", { data: FILES[1]!.data })]), message: "duplicate entry name" },
  { name: "duplicate after normalising", build: () => withFiles([file(".//uploads//a/./b.png", { data: FILES[1]!.data })]), message: "duplicate entry name" },
  { name: "file named like a directory", build: () => withFiles([file("uploads/a")]), message: "a directory with the same name exists" },
  { name: "directory named like a file", build: () => withFiles([file("config/package.json/", { type: "directory", data: undefined })]), message: "duplicate entry name" },
  { name: "file below a file", build: () => withFiles([file("config/package.json/x")]), message: "parent config/package.json is a file" },
  { name: "name too long", build: () => withFiles([file(`uploads/${"n".repeat(30)}`)]), message: "bytes long (limit 25)", limits: { maxNameLength: 25 } },
  { name: "segment too long", build: () => withFiles([file(`uploads/${"s".repeat(20)}`)]), message: "segment is longer than 14", limits: { maxSegmentLength: 14 } },
  { name: "too many entries", build: () => withFiles([]), message: "too many entries (limit 3)", limits: { maxEntries: 3 } },
  { name: "entry too large", build: () => withFiles([]), message: "entry is 200000 bytes (limit 100000)", limits: { maxEntrySize: 100_000 } },
  { name: "total too large", build: () => withFiles([]), message: "total size limit of 150000", limits: { maxTotalSize: 150_000 } },
  {
    name: "compression-ratio bomb",
    build: () => withFiles([], [{ path: "database/dev.db", data: zeros }]),
    message: "compression ratio exceeds 50:1",
    limits: { maxCompressionRatio: 50, ratioCheckAfterBytes: 256 * 1024 },
  },
  { name: "oversize pax header", build: () => withFiles([file("uploads/p", { pax: { comment: "x".repeat(5000) } })]), message: "pax header is 5", limits: { maxHeaderBytes: 4096 } },
  {
    name: "oversize GNU longname",
    build: () => withFiles([{ name: "", raw: rawHeader({ name: "././@LongLink", typeflag: "L", size: 10_000 }) }]),
    message: "GNU longname header is 10000 bytes (limit 4096)",
    limits: { maxHeaderBytes: 4096 },
  },
  { name: "directory with data", build: () => withFiles([{ name: "", raw: rawHeader({ name: "uploads/d/", typeflag: "5", size: 1024 }) }]), message: "directory entry carries 1024 bytes" },
  { name: "bad header checksum", build: async () => { const t = await goodTar(); t[148] = t[148]! ^ 1; return gzipSync(t); }, message: "invalid tar header checksum" },
  { name: "entry after end marker", build: async () => gzipSync(Buffer.concat([await goodTar(), rawHeader({ name: "uploads/hidden", typeflag: "0", size: 1 }), END])), message: "data after the end-of-archive marker" },
  { name: "entry not in manifest", build: () => withFiles([file("uploads/extra.png")]), message: "not listed in the manifest" },
  {
    name: "sha mismatch",
    build: () => buildArchive(backupEntries(FILES, manifestFor(FILES, (m) => void (m.components.uploads!.files[0]!.sha256 = sha256("other"))))),
    error: ChecksumMismatchError,
    message: "uploads/a/b.png: sha256",
  },
  {
    name: "size mismatch",
    build: () => buildArchive(backupEntries(FILES, manifestFor(FILES, (m) => void (m.components.config!.files[0]!.size = 3)))),
    message: "does not match manifest size 3",
  },
  { name: "manifest missing", build: () => buildArchive(backupEntries(FILES).slice(1)), message: "first entry must be the file manifest.json" },
  { name: "manifest not first", build: () => { const [m, r, ...rest] = backupEntries(FILES); return buildArchive([r!, m!, ...rest]); }, message: "first entry must be the file manifest.json" },
  { name: "manifest invalid JSON", build: () => buildArchive([file("manifest.json", { data: "{ nope" })]), message: "manifest.json: invalid JSON" },
  { name: "manifest wrong schema", build: () => buildArchive([file("manifest.json", { data: '{"formatVersion":2}' })]), message: "does not match the manifest schema" },
  { name: "manifest too large", build: () => withFiles([]), message: "manifest is", limits: { maxManifestBytes: 100 } },
  { name: "manifest lists an unsafe path", build: () => buildArchive(backupEntries([], manifestFor([{ path: "../evil", data: "x" }]))), message: "manifest.json: lists an unsafe path \"../evil\"" },
  {
    name: "missing listed entry",
    build: () => buildArchive(backupEntries(FILES, manifestFor([...FILES, { path: "uploads/gone.png", data: "x" }]))),
    message: "missing entries listed in the manifest: uploads/gone.png",
  },
  { name: "truncated gzip", build: async () => (await withFiles([])).subarray(0, 150_000), message: "truncated gzip stream" },
  { name: "truncated tar", build: async () => gzipSync((await goodTar()).subarray(0, 100_000)), message: "ends in the middle of an entry" },
  { name: "no end marker", build: async () => gzipSync(await tarEntries(backupEntries(FILES), { finalize: false })), message: "without an end-of-archive marker" },
  { name: "corrupt gzip header", build: () => corrupt(() => 0), message: "corrupt gzip data" },
  { name: "corrupt gzip checksum", build: () => corrupt((gz) => gz.length - 6), message: "corrupt gzip data" },
  { name: "trailing garbage", build: async () => Buffer.concat([await withFiles([]), Buffer.from("garbage")]), message: "corrupt gzip data" },
  { name: "empty input", build: async () => Buffer.alloc(0), message: "truncated gzip stream" },
];

describe("extractArchive: hostile archives", () => {
  it.each(CASES)("rejects: $name", async ({ build, error = UnsafeArchiveError, message, limits }) => {
    const parent = await tempParent();
    const archive = await build(parent);
    const err = await extractArchive(feed(archive), { stagingDir: join(parent, "staging"), limits }).then(
      () => new Error("extracted a hostile archive"),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(error);
    expect(err.message).toMatch(/^extract archive: /);
    expect(err.message).toContain(message);
    expect(await readdir(parent)).toEqual(["staging"]);
    expect(existsSync(join(parent, "..", "evil"))).toBe(false);
  });
});
