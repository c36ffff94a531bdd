// A stored manifest's bytes: v2 manifests are written as gzip-compressed JSON; plain JSON (v1, older v2) still reads.
import { constants as zc, gunzipSync, gzipSync } from "node:zlib";
import type { StoredManifestV2 } from "./manifest.ts";

/**
 * A manifest unpacks to at most this much JSON. A manifest may come from anyone who can write the store: a few KiB of
 * gzip can claim gigabytes, so the bound keeps one object from taking the process's memory; it also stays under
 * Node's longest string (2^29 - 24 characters), which the JSON must fit in. A real one is about 1 KiB per file
 * (the bench CRM's 4,000 files and 3,200 database pieces: 4.5 MB).
 */
export const MANIFEST_MAX_JSON_BYTES = 256 * 1024 * 1024;

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/**
 * A v2 manifest as stored: its pretty-printed JSON (what `gunzip -c` shows a person) as one gzip member. Most of a
 * manifest is per-piece records that repeat their pack's name and whose keys repeat; gzip stores the bench CRM's
 * 4.5 MB manifest in 0.54 MB, and every backup writes one (it was 40% of what a 1% churn day added to the store). Level 9 because it runs once per
 * backup on a few MB, and the header carries no time or name, so the same manifest is always the same bytes
 * (putOnce compares a retried write's bytes with what is there).
 */
export function encodeManifest(m: StoredManifestV2): Buffer {
  return gzipText(manifestText(m));
}

/** The JSON text a stored v2 manifest unpacks to. */
export function manifestText(m: StoredManifestV2): string {
  return JSON.stringify(m, null, 2) + "\n";
}

/** One gzip member of `text`, as manifests are stored (level 9, no name or time in the header). */
export const gzipText = (text: string): Buffer => gzipSync(text, { level: zc.Z_BEST_COMPRESSION });

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
