// A stored manifest's bytes: v2 manifests are written as gzip-compressed JSON; plain JSON (v1, older v2) still reads.
import { constants as zc, gunzipSync, gzipSync } from "node:zlib";
import type { StoredManifestV2 } from "./manifest.ts";
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

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/**
 * A v2 manifest as stored: its pretty-printed JSON (what `gunzip -c` shows a person) as one gzip member. Most of a
 * manifest is per-piece records that repeat their pack's name and whose keys repeat; gzip stores the bench CRM's
 * 4.5 MB manifest in 0.54 MB, and every backup writes one (it was 40% of what a 1% churn day added to the store). Level 9 because it runs once per
 * backup on a few MB, and the header carries no time or name, so the same manifest is always the same bytes
 * (putOnce compares a retried write's bytes with what is there).
 */
export function encodeManifest(m: StoredManifestV2): Buffer {
  // The text is JSON.stringify(m, null, 2) + "\n", written piece by piece into one buffer of its exact size (a first
  // pass counts the bytes): as one string it was held twice over (V8's string, then its UTF-8 copy for zlib), which on
  // the scale-4 bench CRM (12,800 database pieces, 16,000 files: 18 MB of JSON) put 40-80 MiB on the backup's peak.
  let bytes = 1;
  for (const piece of jsonPieces(m, "", "")) bytes += Buffer.byteLength(piece);
  if (bytes >= BIG_MANIFEST) collectNow(); // before the buffer and zlib's output are allocated: see collectNow
  const text = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  for (const piece of jsonPieces(m, "", "")) at += text.write(piece, at);
  if (at !== bytes - 1) throw new Error(`encode manifest: wrote ${at} of the ${bytes - 1} bytes counted`); // never: both passes walk the same object
  text[at] = 0x0a;
  return gzipSync(text, { level: zc.Z_BEST_COMPRESSION });
}

/** JSON.stringify(value, null, 2)'s text in pieces, for a value at `indent` (`key` is what toJSON receives). */
function* jsonPieces(value: unknown, indent: string, key: string): Generator<string> {
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

/** True when nothing inside is an object or array (so JSON.stringify's own layout of it is all there is). */
function isLeaf(value: object): boolean {
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (v !== null && typeof v === "object") return false;
  return true;
}
