// Extraction limits, entry-name rules, and TarGuard: a raw tar block walker that vets headers before tar-stream parses them.
import { Transform, type TransformCallback } from "node:stream";
import { UnsafeArchiveError, ValidationError } from "../errors.ts";

export interface ExtractLimits {
  maxEntries: number;
  maxNameLength: number;
  maxSegmentLength: number;
  maxEntrySize: number;
  maxTotalSize: number;
  maxCompressionRatio: number;
  ratioCheckAfterBytes: number;
  maxHeaderBytes: number;
  maxManifestBytes: number;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export const DEFAULT_LIMITS: ExtractLimits = Object.freeze({
  maxEntries: 1_000_000,
  maxNameLength: 4096,
  maxSegmentLength: 255,
  maxEntrySize: 64 * GiB,
  maxTotalSize: 1024 * GiB,
  maxCompressionRatio: 1000,
  ratioCheckAfterBytes: 64 * MiB,
  maxHeaderBytes: 1 * MiB,
  maxManifestBytes: 256 * MiB,
});

export function resolveLimits(partial: Partial<ExtractLimits> = {}): ExtractLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(partial) as [keyof ExtractLimits, number | undefined][]) {
    if (value === undefined) continue;
    // A NaN limit would make every comparison false, i.e. silently disable the check.
    if (!(value >= 0)) throw new ValidationError(`extract archive: limits: ${key} must be a non-negative number`);
    limits[key] = value;
  }
  return limits;
}

export function unsafe(name: string, what: string): UnsafeArchiveError {
  return new UnsafeArchiveError(`extract archive: ${name}: ${what}`);
}

/** Validates a raw entry name and returns it normalised ("./a//b/" -> "a/b"); lengths are in UTF-8 bytes, as filesystems count. */
export function normalizeEntryName(raw: string, limits: ExtractLimits): string {
  const checked = checkEntryName(raw, limits);
  if (typeof checked !== "string") throw unsafe(raw === "" ? "(empty)" : raw, checked.problem);
  return checked;
}

/** The normalised name, or what is wrong with it. */
export function checkEntryName(raw: string, limits: ExtractLimits): string | { problem: string } {
  if (raw === "") return { problem: "empty entry name" };
  if (raw.includes("\0")) return { problem: "name contains a NUL byte" };
  if (raw.includes("\\")) return { problem: "name contains a backslash" };
  if (raw.startsWith("/")) return { problem: "absolute name" };
  const bytes = Buffer.byteLength(raw);
  if (bytes > limits.maxNameLength) return { problem: `name is ${bytes} bytes long (limit ${limits.maxNameLength})` };
  const kept: string[] = [];
  for (const segment of raw.split("/")) {
    if (segment === "..") return { problem: "name contains a '..' segment" };
    if (Buffer.byteLength(segment) > limits.maxSegmentLength) {
      return { problem: `name segment is longer than ${limits.maxSegmentLength} bytes` };
    }
    if (segment !== "" && segment !== ".") kept.push(segment);
  }
  if (kept.length === 0) return { problem: "empty name after normalisation" };
  return kept.join("/");
}

/** An entry header as TarGuard framed it; the extractor checks tar-stream reports the same size. */
export interface GuardedEntry {
  name: string;
  size: number;
  typeflag: number;
}

const BLOCK = 512;
// Typeflags after tar-stream's `byte - '0'` mapping: x, g, K, L, N.
const LONG_HEADERS: Record<number, string> = { 72: "pax", 55: "pax global", 27: "GNU longlink", 28: "GNU longname", 30: "GNU longname" };
// Real archives need one or two (g + x, or L + K); more is only useful to an attacker.
const MAX_LONG_HEADERS_PER_ENTRY = 4;

/**
 * tar-stream buffers pax/GNU long headers up to a fixed 4 MiB and does not see limits, sizes that decode to NaN/null
 * (it then waits forever), or directories with data (it parses the data as headers). This walker mirrors its framing
 * exactly (same octal/base-256, checksum, pax `size`, directory rules) so both agree on where every header is, and
 * rejects anything that is malformed, oversized, or past a limit before tar-stream sees it. It also enforces the
 * entry count, entry and total sizes and the compression ratio, since it sees every inflated byte first.
 */
export class TarGuard extends Transform {
  inflated = 0;
  entries = 0;
  totalBytes = 0;
  /** The entry being read, for messages; "archive" before the first and after the last. */
  currentName = "archive";
  private readonly queue: GuardedEntry[] = [];
  private state: "header" | "long" | "skip" | "end" = "header";
  private readonly block = Buffer.alloc(BLOCK);
  private filled = 0;
  private skipRemaining = 0;
  private long: { typeflag: number; data: Buffer; filled: number } | null = null;
  private longHeaders = 0;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private gnuLongPath: string | null = null;

  constructor(
    private readonly limits: ExtractLimits,
    private readonly compressedBytes: () => number,
  ) {
    super();
  }

  takeEntry(): GuardedEntry | undefined {
    return this.queue.shift();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.inflated += chunk.length;
      const { maxCompressionRatio, ratioCheckAfterBytes } = this.limits;
      if (this.inflated > ratioCheckAfterBytes && this.inflated > maxCompressionRatio * this.compressedBytes()) {
        throw unsafe(this.currentName, `compression ratio exceeds ${maxCompressionRatio}:1 (possible decompression bomb)`);
      }
      this.scan(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.state === "end" && this.inflated % BLOCK === 0) return cb();
    if (this.state === "header" && this.filled === 0) {
      return cb(unsafe(this.currentName, "truncated archive: tar data ends without an end-of-archive marker"));
    }
    cb(unsafe(this.currentName, "truncated archive: tar data ends in the middle of an entry"));
  }

  private scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const left = chunk.length - i;
      if (this.state === "skip") {
        const n = Math.min(left, this.skipRemaining);
        this.skipRemaining -= n;
        i += n;
        if (this.skipRemaining === 0) this.state = "header";
      } else if (this.state === "header") {
        const n = Math.min(left, BLOCK - this.filled);
        chunk.copy(this.block, this.filled, i, i + n);
        this.filled += n;
        i += n;
        if (this.filled === BLOCK) {
          this.filled = 0;
          this.onHeader();
        }
      } else if (this.state === "long") {
        const long = this.long!;
        const n = Math.min(left, long.data.length - long.filled);
        chunk.copy(long.data, long.filled, i, i + n);
        long.filled += n;
        i += n;
        if (long.filled === long.data.length) this.onLongData();
      } else {
        // tar-stream keeps parsing after zero blocks, so anything non-zero here would be a hidden entry.
        for (; i < chunk.length; i++) {
          if (chunk[i] !== 0) throw unsafe(this.currentName, "data after the end-of-archive marker");
        }
      }
    }
  }

  private onHeader(): void {
    const buf = this.block;
    if (buf.every((b) => b === 0)) {
      if (this.longHeaders > 0) throw unsafe(this.currentName, "extended header not followed by an entry");
      this.state = "end";
      this.currentName = "archive";
      return;
    }
    const sum = checksum(buf);
    const after = this.currentName === "archive" ? "" : ` after ${this.currentName}`;
    if (sum === 8 * 32) throw unsafe("archive", `malformed tar header block${after}`);
    if (sum !== decodeOct(buf, 148, 8)) throw unsafe("archive", `invalid tar header checksum${after} (corrupt archive)`);
    const ustar = buf.subarray(257, 263).equals(USTAR_MAGIC);
    const gnu = buf.subarray(257, 263).equals(GNU_MAGIC) && buf.subarray(263, 265).equals(GNU_VER);
    if (!ustar && !gnu) throw unsafe("archive", `unknown tar header format${after}`);

    let name = decodeStr(buf, 0, 100);
    if (ustar && buf[345]) name = decodeStr(buf, 345, 155) + "/" + name;
    let typeflag = buf[156] === 0 ? 0 : buf[156]! - 48;
    if (typeflag === 0 && name.endsWith("/")) typeflag = 5;
    const size = decodeOct(buf, 124, 12);
    if (size === null || !Number.isSafeInteger(size) || size < 0) throw unsafe(name, "invalid size field in tar header");

    const longKind = LONG_HEADERS[typeflag];
    if (longKind !== undefined) {
      this.currentName = name;
      if (++this.longHeaders > MAX_LONG_HEADERS_PER_ENTRY) throw unsafe(name, "too many extended headers before one entry");
      if (size > this.limits.maxHeaderBytes) {
        throw unsafe(name, `${longKind} header is ${size} bytes (limit ${this.limits.maxHeaderBytes})`);
      }
      this.long = { typeflag, data: Buffer.alloc(size), filled: 0 };
      if (size === 0) this.onLongData();
      else this.state = "long";
      return;
    }

    // Same precedence as tar-stream's _applyLongHeaders: GNU longname, then pax path; pax size replaces the header's.
    if (this.gnuLongPath !== null) name = this.gnuLongPath;
    let effectiveSize = size;
    if (this.pax) {
      if (this.pax.path) name = this.pax.path;
      const paxSize = this.pax.size;
      if (paxSize) {
        if (!/^[0-9]+$/.test(paxSize)) throw unsafe(name, "invalid pax size record");
        effectiveSize = parseInt(paxSize, 10);
        if (!Number.isSafeInteger(effectiveSize)) throw unsafe(name, "invalid pax size record");
      }
    }
    this.pax = null;
    this.gnuLongPath = null;
    this.longHeaders = 0;
    this.currentName = name;

    const { maxEntries, maxEntrySize, maxTotalSize } = this.limits;
    if (++this.entries > maxEntries) throw unsafe(name, `too many entries (limit ${maxEntries})`);
    if (typeflag === 5 && effectiveSize !== 0) throw unsafe(name, `directory entry carries ${effectiveSize} bytes of data`);
    if (effectiveSize > maxEntrySize) throw unsafe(name, `entry is ${effectiveSize} bytes (limit ${maxEntrySize})`);
    this.totalBytes += effectiveSize;
    if (this.totalBytes > maxTotalSize) throw unsafe(name, `archive contents exceed the total size limit of ${maxTotalSize} bytes`);

    this.queue.push({ name, size: effectiveSize, typeflag });
    if (effectiveSize > 0) this.skip(effectiveSize + padding(effectiveSize));
  }

  private onLongData(): void {
    const { typeflag, data } = this.long!;
    this.long = null;
    if (typeflag === 72) this.pax = this.paxGlobal === null ? decodePax(data) : { ...this.paxGlobal, ...decodePax(data) };
    else if (typeflag === 55) this.paxGlobal = decodePax(data);
    else if (typeflag === 28 || typeflag === 30) this.gnuLongPath = decodeStr(data, 0, data.length);
    this.state = "header";
    const pad = padding(data.length);
    if (pad > 0) this.skip(pad);
  }

  private skip(n: number): void {
    this.skipRemaining = n;
    this.state = "skip";
  }
}

const USTAR_MAGIC = Buffer.from("ustar\0", "latin1");
const GNU_MAGIC = Buffer.from("ustar ", "latin1");
const GNU_VER = Buffer.from(" \0", "latin1");

function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

function checksum(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

function decodeStr(buf: Buffer, offset: number, length: number): string {
  const nul = buf.indexOf(0, offset);
  const end = nul === -1 || nul > offset + length ? offset + length : nul;
  return buf.subarray(offset, Math.min(end, buf.length)).toString("utf8");
}

// The next three copy tar-stream 3.2's headers.js decoders so the framing here cannot drift from its own.
function decodeOct(buf: Buffer, offset: number, length: number): number | null {
  const val = buf.subarray(offset, offset + length);
  if (val[0]! & 0x80) return parse256(val);
  let i = 0;
  while (i < val.length && val[i] === 32) i++;
  let end = val.indexOf(32, i);
  if (end === -1) end = val.length;
  while (i < end && val[i] === 0) i++;
  if (end === i) return 0;
  return parseInt(val.subarray(i, end).toString(), 8);
}

function parse256(buf: Buffer): number | null {
  if (buf[0] !== 0x80) return null; // 0xff is a negative size; anything else is not base-256
  let sum = 0;
  for (let i = 1; i < buf.length; i++) sum = sum * 256 + buf[i]!;
  return sum;
}

function decodePax(input: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let buf = input;
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const len = parseInt(buf.subarray(0, i).toString(), 10);
    if (!len) return result;
    const record = buf.subarray(i + 1, len - 1).toString();
    const eq = record.indexOf("=");
    if (eq === -1) return result;
    result[record.slice(0, eq)] = record.slice(eq + 1);
    buf = buf.subarray(len);
  }
  return result;
}
