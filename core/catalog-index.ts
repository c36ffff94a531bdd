// The catalog index: one small object holding every backup's summary, so a listing reads it instead of every (MB-sized) manifest.
import { z } from "zod";
import { NotFoundError } from "./errors.ts";
import { ComponentRecordSchema, ComponentRecordV2Schema, ManifestSchema, ManifestV2Schema, type StoredManifest } from "./manifest.ts";
import type { ObjectInfo, Storage } from "./storage/storage.ts";
import type { BackupSummary } from "./catalog-scan.ts";

/**
 * Rewritten whole (never appended) by whoever knows more than it holds: a backup that just wrote its manifest, or a
 * listing that had to read manifests the index lacked. It is a cache, never the truth: an entry is used only while the
 * manifest it was made from is listed with the same version (ETag on S3, mtime+size+inode on fs) and size, so a
 * manifest replaced, damaged or removed since falls back to being read, and a lost or stale index costs reads, not errors.
 */
export const CATALOG_INDEX_KEY = "catalog/index.json";
const INDEX_FORMAT = 1;

export interface IndexEntry {
  /** The manifest's key, version and size when the summary was made from it. */
  key: string;
  version: string;
  size: number;
  summary: BackupSummary;
}

/** A summary is a manifest without its file lists; checked like one, since anyone who can write the store can write this. */
const SummarySchema = z.discriminatedUnion("formatVersion", [
  ManifestSchema.extend({ components: z.record(z.string(), ComponentRecordSchema.omit({ files: true })) }),
  ManifestV2Schema.extend({ components: z.record(z.string(), ComponentRecordV2Schema.omit({ files: true })) }),
]);
const IndexFileSchema = z.object({
  formatVersion: z.literal(INDEX_FORMAT),
  entries: z.array(z.object({ key: z.string(), version: z.string(), size: z.number(), summary: z.unknown() })),
});

/** The summaries last read or written per store in this process: a backup adds to them without reading the index again. */
const known = new Map<string, Map<string, IndexEntry>>();

/** The index's usable entries by manifest key; empty when it is absent or unreadable (every manifest is then read). */
export async function readCatalogIndex(storage: Storage): Promise<Map<string, IndexEntry>> {
  let raw: Buffer;
  try {
    raw = await storage.getBuffer(CATALOG_INDEX_KEY);
  } catch (err) {
    if (err instanceof NotFoundError) return new Map();
    return new Map(); // unreadable now: the manifests are the truth, and the listing can still be answered from them
  }
  const parsed = IndexFileSchema.safeParse(safeJson(raw));
  if (!parsed.success) return new Map();
  const out = new Map<string, IndexEntry>();
  for (const e of parsed.data.entries) {
    const s = SummarySchema.safeParse(e.summary);
    if (!s.success || !summaryComplete(s.data as BackupSummary, e.key)) continue; // that one manifest is read instead
    out.set(e.key, { key: e.key, version: e.version, size: e.size, summary: s.data as BackupSummary });
  }
  known.set(storage.description, new Map(out));
  return out;
}

/** The entry for a listed manifest if it was made from exactly that object. */
export function entryFor(index: Map<string, IndexEntry>, obj: ObjectInfo): BackupSummary | null {
  const e = index.get(obj.key);
  return e && e.version === obj.version && e.size === obj.size ? e.summary : null;
}

/** Writes the index as `entries`; best effort (a role that may not write it, a full disk): listings then read manifests. */
export async function writeCatalogIndex(storage: Storage, entries: Iterable<IndexEntry>): Promise<boolean> {
  const all = new Map([...entries].map((e) => [e.key, e]));
  const body = JSON.stringify({ formatVersion: INDEX_FORMAT, entries: [...all.values()] }) + "\n";
  try {
    await storage.put(CATALOG_INDEX_KEY, body);
    known.set(storage.description, all);
    return true;
  } catch {
    return false;
  }
}

/**
 * Adds a just-written manifest to the index (called by the writers, after the manifest's put). `info` is what the put
 * returned; without it (a retried put that found its own object) the manifest is statted. Never throws: the backup
 * is complete without it, and the next listing reads that one manifest and writes the index itself.
 */
export async function recordInCatalogIndex(storage: Storage, key: string, manifest: StoredManifest, info: ObjectInfo | null): Promise<void> {
  try {
    const obj = info ?? (await storage.stat(key));
    if (!obj) return;
    const entries = known.get(storage.description) ?? (await readCatalogIndex(storage));
    entries.set(key, { key, version: obj.version, size: obj.size, summary: summarizeManifest(manifest) });
    await writeCatalogIndex(storage, entries.values());
  } catch {
    // see above: a missing entry only costs the next listing one manifest read
  }
}

/** A manifest without its file lists: what listings need, about a kilobyte whatever the backup's size. */
export function summarizeManifest(m: StoredManifest): BackupSummary {
  return { ...m, components: Object.fromEntries(Object.entries(m.components).map(([n, { files: _files, ...rest }]) => [n, rest])) } as BackupSummary;
}

/** What a listing found: every good manifest's summary, so a backup that follows adds its own without reading the index. */
export function rememberCatalog(storage: Storage, entries: IndexEntry[]): void {
  known.set(storage.description, new Map(entries.map((e) => [e.key, e])));
}

/** Forgets what this process knows of the store's index (tests that rewrite a store behind its back). */
export function forgetCatalogIndex(): void {
  known.clear();
}

// The checks checkManifest makes beyond the schema: a listed backup is a verified one, under its own id.
function summaryComplete(s: BackupSummary, key: string): boolean {
  if (s.formatVersion === 1 ? !s.archive : !s.stored) return false;
  return key.slice(key.indexOf("/") + 1, -".json".length) === s.id;
}

function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    return null;
  }
}
