// A stored manifest's bytes: v2 manifests are written as gzip-compressed compact JSON; every older form still reads.
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gunzipSync, gzipSync } from "node:zlib";
import type { BlobRef, FileEntryV2, StoredManifestV2 } from "./manifest.ts";
import { collectNow } from "./v2/thread-gc.ts";

/**
 * A manifest unpacks to at most this much JSON. A manifest may come from anyone who can write the store: a few KiB of
 * gzip can claim gigabytes, so the bound keeps one object from taking the process's memory; it also stays under
 * Node's longest string (2^29 - 24 characters), which the JSON must fit in. A real one is about 1 KiB per file
 * (the bench CRM's 4,000 files and 3,200 database pieces: 4.5 MB).
 */
export const MANIFEST_MAX_JSON_BYTES = 256 * 1024 * 1024;

/** A manifest this long (4 MiB of JSON: ~4,000 files and pieces) is written after a full collection. */
const BIG_MANIFEST = 4 * 1024 * 1024;
/** About as many file records and pieces as make BIG_MANIFEST bytes (~1 KiB each). */
const BIG_MANIFEST_FILES = 4000;

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/**
 * Deflate level of a stored manifest. Writing it is the serial tail of every backup, after the last pack: on the bench
 * CRM's 3.2 MB of manifest JSON level 9 took ~105 ms, level 7 ~30 ms for 1.9% more bytes (474 KB against 466 KB),
 * level 6 the same time for 4.3% more.
 */
export const MANIFEST_GZIP_LEVEL = 7;

/**
 * A v2 manifest as stored: its compact form (manifestText) pretty-printed, as one gzip member at MANIFEST_GZIP_LEVEL.
 * The header carries no time or name, so the same manifest is always the same bytes (putOnce compares a retried
 * write's bytes with what is there). A backup writes with encodeManifestStreamed (the same bytes, the text never whole).
 */
export function encodeManifest(m: StoredManifestV2): Buffer {
  // The text is manifestText(m) (the compact form pretty-printed), written piece by piece into one buffer of its exact
  // size (a first pass counts the bytes): as one string it was held twice over (V8's string, then its UTF-8 copy for zlib), which on
  // the scale-4 bench CRM (12,800 database pieces, 16,000 files: 18 MB of JSON) put 40-80 MiB on the backup's peak.
  const compact = compactManifest(m);
  let bytes = 1;
  for (const piece of jsonPieces(compact, "", "")) bytes += Buffer.byteLength(piece);
  if (bytes >= BIG_MANIFEST) collectNow(); // before the buffer and zlib's output are allocated: see collectNow
  const text = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  for (const piece of jsonPieces(compact, "", "")) at += text.write(piece, at);
  if (at !== bytes - 1) throw new Error(`encode manifest: wrote ${at} of the ${bytes - 1} bytes counted`); // never: both passes walk the same object
  text[at] = 0x0a;
  return gzipSync(text, { level: MANIFEST_GZIP_LEVEL });
}

/** Text handed to zlib at a time by encodeManifestStreamed. */
const TEXT_BATCH = 64 * 1024;

/**
 * encodeManifest's bytes exactly (deflate's output does not depend on how its input is cut), with the gzip made as the
 * text is: only a batch of text and the compressed bytes are held, not the whole text beside them (18 MB of JSON on
 * the scale-4 bench CRM, for ~2 MB of gzip). What a backup writes its manifest with.
 */
export async function encodeManifestStreamed(m: StoredManifestV2): Promise<Buffer> {
  const compact = compactManifest(m);
  let files = 0;
  for (const c of Object.values(m.components)) for (const f of c.files) files += Math.max(1, f.blobs.length);
  if (files >= BIG_MANIFEST_FILES) collectNow(); // the dead trees of the backup's reads go before zlib's buffers come
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk);
      done();
    },
  });
  await pipeline(Readable.from(textBatches(compact)), createGzip({ level: MANIFEST_GZIP_LEVEL }), sink);
  return Buffer.concat(out);
}

/** The manifest text of a compact manifest (its final newline included) in UTF-8 batches of about TEXT_BATCH. */
function* textBatches(compact: Record<string, unknown>): Generator<Buffer> {
  let batch = "";
  for (const piece of jsonPieces(compact, "", "")) {
    batch += piece;
    if (batch.length >= TEXT_BATCH) {
      yield Buffer.from(batch);
      batch = "";
    }
  }
  yield Buffer.from(batch + "\n");
}

/** JSON.stringify(value, null, 2)'s text in pieces, for a value at `indent` (`key` is what toJSON receives). */
function* jsonPieces(value: unknown, indent: string, key: string): Generator<string> {
  if (value instanceof CompactFiles) {
    // As the array toJSON would give, one record at a time.
    const inner = indent + "  ";
    if (value.length === 0) return void (yield "[]");
    for (let i = 0; i < value.length; i++) {
      yield i === 0 ? `[\n${inner}` : `,\n${inner}`;
      // A record holds no toJSON or CompactFiles, so JSON.stringify writes it whole as jsonPieces would, several times faster.
      yield JSON.stringify(value.at(i), null, 2).replaceAll("\n", `\n${inner}`);
    }
    yield `\n${indent}]`;
    return;
  }
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: (k: string) => unknown }).toJSON(key);
  }
  if (value === null || typeof value !== "object") {
    yield JSON.stringify(value) ?? "null"; // undefined, a function or a symbol: only reached in an array, where it is null
    return;
  }
  if (isLeaf(value)) {
    // Most of a manifest (piece refs, source identities): one call, its lines moved to this depth.
    const text = JSON.stringify(value, null, 2);
    yield indent ? text.replaceAll("\n", `\n${indent}`) : text;
    return;
  }
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return void (yield "[]");
    for (let i = 0; i < value.length; i++) {
      yield i === 0 ? `[\n${inner}` : `,\n${inner}`;
      yield* jsonPieces(value[i], inner, String(i));
    }
    yield `\n${indent}]`;
    return;
  }
  let first = true;
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue; // left out, as JSON.stringify does
    yield `${first ? "{" : ","}\n${inner}${JSON.stringify(k)}: `;
    first = false;
    yield* jsonPieces(v, inner, k);
  }
  yield first ? "{}" : `\n${indent}}`;
}

/**
 * The JSON text a stored v2 manifest unpacks to: the manifest in its compact form (core/v2/FORMAT.md, "Manifest"),
 * pretty-printed so `gzip -dc` shows a person a readable record. Every backup stores one, so the form leaves out what
 * a reader can rebuild exactly: each pack's 75-character name is written once, in a top-level "packs" table, and blobs
 * name their pack by its index there; a single-piece file's piece leaves out the sha256 and size it shares with the
 * file; a file's "mtime" is left out when it is its source's mtimeNs to the millisecond, the source's "size" when it
 * is the file's, and its "ctimeNs" when it equals its "mtimeNs". Each omission is made only when expandManifest
 * rebuilds exactly the value left out, so decoding gives back the same manifest.
 */
export function manifestText(m: StoredManifestV2): string {
  return JSON.stringify(compactManifest(m), null, 2) + "\n";
}

/**
 * The compact form's object (manifestText's content), which encodeManifest writes out piece by piece. The pack table
 * is filled first, in the order the records use it; each file list stays a CompactFiles, whose records are compacted
 * one at a time as they are written (a whole compact copy of the lists was ~10 MiB more heap at bench scale 4, held
 * while the text was written: the backup's peak).
 */
function compactManifest(m: StoredManifestV2): Record<string, unknown> {
  const packs: string[] = [];
  const packIndex = new Map<string, number>();
  const add = (pack: string) => {
    if (!packIndex.has(pack)) packIndex.set(pack, packs.push(pack) - 1);
  };
  for (const c of Object.values(m.components)) {
    for (const f of c.files) for (const b of f.blobs) {
      add(b.pack);
      for (const p of b.patches ?? []) add(p.bundle.pack);
    }
  }
  const indexOf = (pack: string) => packIndex.get(pack)!;
  const components = Object.fromEntries(Object.entries(m.components).map(([name, c]) => [name, { ...c, files: new CompactFiles(c.files, indexOf) }]));
  return { ...m, components, packs };
}

/** A component's file list in the compact form, each record compacted only when it is written out. */
class CompactFiles {
  constructor(readonly files: readonly FileEntryV2[], private readonly indexOf: (pack: string) => number) {}
  get length(): number {
    return this.files.length;
  }
  at(i: number): Record<string, unknown> {
    return compactFile(this.files[i]!, this.indexOf);
  }
  /** JSON.stringify's view (manifestText): the whole list at once. */
  toJSON(): Record<string, unknown>[] {
    return this.files.map((f) => compactFile(f, this.indexOf));
  }
}

function compactFile(f: FileEntryV2, indexOf: (pack: string) => number): Record<string, unknown> {
  const single = f.blobs.length === 1;
  const blobs = f.blobs.map((b) => ({
    sha256: single && b.sha256 === f.sha256 ? undefined : b.sha256,
    size: single && b.size === f.size ? undefined : b.size,
    pack: indexOf(b.pack),
    offset: b.offset,
    length: b.length,
    encoding: b.encoding,
    // A database piece stored as page patches (core/v2/db-pieces.ts): each bundle names its pack by index too.
    base: b.base,
    patches: b.patches?.map((p) => ({ ...p, bundle: { ...p.bundle, pack: indexOf(p.bundle.pack) } })),
  }));
  const out: Record<string, unknown> = { ...f, blobs };
  if (f.source) {
    // null says "no mtime" where leaving it out would say "the source's".
    if (f.mtime === undefined) out.mtime = null;
    else if (f.mtime === msIso(f.source.mtimeNs)) out.mtime = undefined;
    out.source = { ...f.source, size: f.source.size === f.size ? undefined : f.source.size, ctimeNs: f.source.ctimeNs === f.source.mtimeNs ? undefined : f.source.ctimeNs };
  }
  return out;
}

/** A nanosecond time as the ISO string of its millisecond, as file records give "mtime"; null when it is not one. */
function msIso(ns: unknown): string | null {
  if (typeof ns !== "string" || !/^-?\d{1,30}$/.test(ns)) return null;
  // Dropping the last six digits is BigInt's division toward zero, without a BigInt per file (encode and decode call this for every record).
  const ms = ns.length > 6 && ns[0] !== "-" ? Number(ns.slice(0, -6)) : Number(BigInt(ns) / 1_000_000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * The manifest JSON with the compact form expanded back into every field (the form ManifestV2Schema checks). JSON
 * without a top-level "packs" array (v1, v2 written before the compact form) is returned as it is. Throws an Error
 * saying what is wrong when the compact parts do not fit together (a pack index outside the table).
 * In place: `json` (a fresh JSON.parse result) is changed and returned, not copied. A copy was a third tree of the
 * manifest beside the parsed one and the schema's (scale-4 bench CRM: ~12 MiB each, with 18 MB of text), and it
 * set the heap's high-water mark of every command that reads a big manifest.
 */
export function expandManifest(json: unknown): unknown {
  if (!isRecord(json) || json.formatVersion !== 2 || !Array.isArray(json.packs)) return json;
  const packs = json.packs;
  if (!packs.every((p) => typeof p === "string")) throw new Error(`its "packs" table holds something other than pack names`);
  delete json.packs;
  if (!isRecord(json.components)) return json; // the schema names what is missing
  for (const [name, c] of Object.entries(json.components)) {
    if (isRecord(c) && Array.isArray(c.files)) c.files.forEach((f, i) => expandFile(f, packs as string[], `components.${name}.files.${i}`));
  }
  return json;
}

/** Expands one compact file record in place (see expandManifest). */
function expandFile(f: unknown, packs: string[], where: string): void {
  if (!isRecord(f) || !Array.isArray(f.blobs)) return;
  const single = f.blobs.length === 1;
  f.blobs.forEach((b: unknown, i) => {
    if (!isRecord(b)) return;
    if (typeof b.pack === "number") {
      const pack = packs[b.pack];
      if (!Number.isInteger(b.pack) || pack === undefined) throw new Error(`${where}.blobs.${i}: it names pack ${b.pack} of a ${packs.length}-entry "packs" table`);
      b.pack = pack;
    }
    if (single && b.sha256 === undefined) b.sha256 = f.sha256;
    if (single && b.size === undefined) b.size = f.size;
    if (!Array.isArray(b.patches)) return;
    b.patches.forEach((p: unknown, j) => {
      if (!isRecord(p) || !isRecord(p.bundle) || typeof p.bundle.pack !== "number") return;
      const name = packs[p.bundle.pack];
      if (!Number.isInteger(p.bundle.pack) || name === undefined) throw new Error(`${where}.blobs.${i}.patches.${j}: its bundle names pack ${p.bundle.pack} of a ${packs.length}-entry "packs" table`);
      p.bundle.pack = name;
    });
  });
  if (isRecord(f.source)) {
    const s = f.source;
    if (f.mtime === undefined) {
      const mtime = msIso(s.mtimeNs);
      if (mtime !== null) f.mtime = mtime;
    } else if (f.mtime === null) delete f.mtime;
    if (s.size === undefined) s.size = f.size;
    if (s.ctimeNs === undefined) s.ctimeNs = s.mtimeNs;
  }
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** One gzip member of `text`, as manifests are stored (MANIFEST_GZIP_LEVEL, no name or time in the header). */
export const gzipText = (text: string): Buffer => gzipSync(text, { level: MANIFEST_GZIP_LEVEL });

/** True when the bytes start as a gzip member does; JSON never starts with 0x1f. */
export const isGzipped = (raw: Uint8Array): boolean => raw.length >= 2 && raw[0] === GZIP_MAGIC[0] && raw[1] === GZIP_MAGIC[1];

/**
 * The manifest's JSON text from its stored bytes, gzipped or plain. Throws an Error whose message says what is wrong
 * with the bytes (the catalog turns it into a damaged manifest's reason).
 */
export function manifestJsonText(raw: Buffer, maxBytes = MANIFEST_MAX_JSON_BYTES): string {
  if (!isGzipped(raw)) return raw.toString("utf8");
  let json: Buffer;
  try {
    json = gunzipSync(raw, { maxOutputLength: maxBytes });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) throw new Error(`it unpacks to more than ${maxBytes} bytes of JSON`);
    throw new Error(`it is gzip data that does not unpack (${e.message})`);
  }
  return json.toString("utf8");
}

/** A stored manifest's bytes as the full JSON object, any form (unchecked: checkManifest adds the schema and the id). */
export function decodeManifest(raw: Buffer): unknown {
  return expandManifest(JSON.parse(manifestJsonText(raw)));
}

/** True when nothing inside is an object or array (so JSON.stringify's own layout of it is all there is). */
function isLeaf(value: object): boolean {
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (v !== null && typeof v === "object") return false;
  return true;
}
