// Reading the store's backup objects into one scan: good manifests, damaged ones, orphan archives and leftovers of killed runs.
import { ZodError } from "zod";
import { NotFoundError, errorMessage } from "./errors.ts";
import { PENDING_PREFIX, archiveKey, isBackupId, manifestKey, pendingKey, typeOfId } from "./ids.ts";
import { expandManifest, manifestJsonText } from "./manifest-codec.ts";
import { collectNow } from "./v2/thread-gc.ts";
import { AnyManifestSchema, BACKUP_TYPES, type BackupType, type ComponentRecord, type StoredManifest, type StoredManifestV1, type StoredManifestV2 } from "./manifest.ts";
import type { ObjectInfo, Storage } from "./storage/storage.ts";
import { cachedList } from "./catalog-listing.ts";
import { entryFor, readCatalogIndex, rememberCatalog, summarizeManifest, writeCatalogIndex, type IndexEntry } from "./catalog-index.ts";

/** A stored manifest without the per-file lists: what listings need, small enough to keep for thousands of backups. */
export type BackupSummary =
  | (Omit<StoredManifestV1, "components"> & { components: Record<string, Omit<ComponentRecord, "files">> })
  | (Omit<StoredManifestV2, "components"> & { components: Record<string, Omit<ComponentRecord, "files">> });

/** A manifest that exists but cannot be used; its archive (if any) is kept until someone deletes it by id. */
export interface DamagedManifest {
  key: string;
  id: string;
  reason: string;
}

/** An archive with neither a manifest nor a pending marker: nobody knows whether it is whole. */
export interface OrphanArchive {
  key: string;
  /** The backup id its name carries, when it is one of ours. */
  id: string | null;
  sizeBytes: number;
  modified: string;
}

/** A backup that started (its pending marker exists) and never wrote its manifest: a killed or failed run. */
export interface IncompleteBackup {
  id: string;
  marker: string;
  /** The partial archive, if the run got as far as storing one. */
  archive: { key: string; sizeBytes: number } | null;
  startedAt: string | null;
  pid: number | null;
  host: string | null;
}

export interface CatalogScan {
  /** Readable, verified backups, newest first. */
  backups: BackupSummary[];
  damaged: DamagedManifest[];
  orphans: OrphanArchive[];
  incomplete: IncompleteBackup[];
  /** Pending markers of runs whose manifest was written after all (killed just before removing the marker). */
  staleMarkers: string[];
}

const MANIFEST_SUFFIX = ".json";
const ARCHIVE_SUFFIX = ".tar.gz";

/** A manifest this long (4 MiB of JSON: ~4,000 files and pieces) is parsed with full collections between its steps. */
const BIG_MANIFEST = 4 * 1024 * 1024;

/** Parses a stored manifest; returns why it is unusable instead of throwing, so one bad object never stops a listing. */
export function checkManifest(raw: Buffer, id: string): { manifest: StoredManifest } | { reason: string } {
  let text: string;
  try {
    text = manifestJsonText(raw); // gzipped (v2 since the manifest codec) or plain JSON
  } catch (err) {
    return { reason: errorMessage(err) };
  }
  const big = text.length >= BIG_MANIFEST;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { reason: `it is not valid JSON (${errorMessage(err)})` };
  }
  text = ""; // parsed: the text is garbage from here on
  try {
    json = expandManifest(json); // in place: the compact form v2 manifests are written in; older forms pass as they are
  } catch (err) {
    return { reason: errorMessage(err) };
  }
  let m;
  try {
    m = AnyManifestSchema.parse(json);
    if (big) {
      // The schema made a copy: the text and the parsed tree are garbage now, and V8 would keep them through the whole
      // step (a restore's pre-restore backup held two at scale 4: 35 MiB of text alone). A collection between the
      // parse and the schema was tried too: no lower peak (scale-4 manifest read +55-58 MiB either way), one more pause.
      json = null;
      collectNow();
    }
  } catch (err) {
    if (!(err instanceof ZodError)) throw err;
    const issues = err.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    return { reason: `it does not match the manifest schema (${issues.join("; ")}${err.issues.length > 3 ? "; ..." : ""})` };
  }
  if (m.formatVersion === 1 ? !m.archive : !m.stored) return { reason: m.formatVersion === 1 ? "it records no verified archive" : "it records no stored summary (its blobs were never confirmed)" };
  if (m.id !== id) return { reason: `it describes backup ${m.id}, not ${id}` };
  return { manifest: m as StoredManifest };
}

type Verdict = { summary: BackupSummary } | { reason: string };
// Stored manifests never change once written, so a verdict read once is valid for as long as the object's version is.
const verdicts = new Map<string, { version: string; verdict: Verdict }>();
const CACHE_LIMIT = 50_000;

const cached = (storage: Storage, obj: ObjectInfo): Verdict | null => {
  const hit = verdicts.get(`${storage.description}\u0000${obj.key}`);
  return hit && hit.version === obj.version ? hit.verdict : null;
};

function remember(storage: Storage, obj: ObjectInfo, verdict: Verdict): Verdict {
  if (verdicts.size >= CACHE_LIMIT) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(`${storage.description}\u0000${obj.key}`, { version: obj.version, verdict });
  return verdict;
}

/** This process's verdict, else the catalog index's summary of exactly this object, else the manifest itself, read and checked. */
async function judge(storage: Storage, obj: ObjectInfo, id: string, index: Map<string, IndexEntry> | null): Promise<Verdict | null> {
  const hit = cached(storage, obj);
  if (hit) return hit;
  const indexed = index && entryFor(index, obj);
  if (indexed) return remember(storage, obj, { summary: indexed });
  let raw: Buffer;
  try {
    raw = await storage.getBuffer(obj.key);
  } catch (err) {
    if (err instanceof NotFoundError) return null; // deleted while listing
    return { reason: `it cannot be read (${errorMessage(err)})` }; // not cached: it may be a passing fault
  }
  const checked = checkManifest(raw, id);
  return remember(storage, obj, "manifest" in checked ? { summary: summarizeManifest(checked.manifest) } : checked);
}

const idOf = (key: string, suffix: string) => key.slice(key.indexOf("/") + 1, -suffix.length);

/** Scans the store (or one type); never throws for one bad object, only when the store itself cannot be listed. */
export async function scanCatalog(storage: Storage, type?: BackupType, opts: { backupsOnly?: boolean; cachedListing?: boolean } = {}): Promise<CatalogScan> {
  const types = type ? [type] : BACKUP_TYPES;
  // cachedListing: read-only views (the API's listings and status) reuse listings of unchanged folders (core/catalog-listing.ts).
  const list = (prefix: string) => (opts.cachedListing ? cachedList(storage, prefix) : storage.list(prefix));
  // Backups only (listBackups, every backup's start): no markers to list, a request saved per run.
  if (opts.backupsOnly) {
    const listed = (await Promise.all(types.map((t) => list(`${t}/`)))).flat();
    return { ...(await judgeManifests(storage, type, listed)), orphans: [], incomplete: [], staleMarkers: [] };
  }
  // Markers first: a run writes its marker before its archive and removes it after its manifest, so reading them
  // before the archives means a run finishing meanwhile is seen as complete or incomplete, never as an orphan.
  const markers = new Map((await list(PENDING_PREFIX)).flatMap((o) => {
    const id = o.key.slice(PENDING_PREFIX.length, -MANIFEST_SUFFIX.length);
    return o.key.endsWith(MANIFEST_SUFFIX) && isBackupId(id) && types.includes(typeOfId(id)) ? [[id, o] as const] : [];
  }));
  const found = (await Promise.all(types.map((t) => list(`${t}/`)))).flat();
  const keys = new Map(found.map((o) => [o.key, o]));
  const { backups, damaged } = await judgeManifests(storage, type, found);
  const orphans: OrphanArchive[] = [];
  const incomplete: IncompleteBackup[] = [];
  for (const o of found.filter((f) => f.key.endsWith(ARCHIVE_SUFFIX))) {
    if (keys.has(o.key.slice(0, -ARCHIVE_SUFFIX.length) + MANIFEST_SUFFIX)) continue;
    const id = idOf(o.key, ARCHIVE_SUFFIX);
    if (isBackupId(id) && markers.has(id)) continue; // reported with its marker below
    // Looked at again one by one: a run may have written its manifest since the listing.
    if (isBackupId(id)) {
      const [m, p] = await Promise.all([storage.stat(manifestKey(id)), storage.stat(pendingKey(id))]);
      if (m) continue;
      if (p) {
        markers.set(id, p);
        continue;
      }
    }
    orphans.push({ key: o.key, id: isBackupId(id) ? id : null, sizeBytes: o.size, modified: o.modified.toISOString() });
  }

  const staleMarkers: string[] = [];
  for (const [id, marker] of markers) {
    if (keys.has(manifestKey(id))) {
      staleMarkers.push(marker.key);
      continue;
    }
    const archive = keys.get(archiveKey(id)) ?? null;
    incomplete.push({ id, marker: marker.key, archive: archive && { key: archive.key, sizeBytes: archive.size }, ...(await markerFacts(storage, marker.key)) });
  }

  orphans.sort(byKey);
  return { backups, damaged, orphans, incomplete, staleMarkers };
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The listed manifests judged: good ones summarised newest first, damaged ones named, sorted by key. */
async function judgeManifests(storage: Storage, type: BackupType | undefined, found: ObjectInfo[]): Promise<Pick<CatalogScan, "backups" | "damaged">> {
  const manifests = found.filter((o) => o.key.endsWith(MANIFEST_SUFFIX) && isBackupId(idOf(o.key, MANIFEST_SUFFIX)));
  const backups: BackupSummary[] = [];
  const damaged: DamagedManifest[] = [];
  // The catalog index is read only when this process has not judged every listed manifest already.
  const index = manifests.every((o) => cached(storage, o)) ? null : await readCatalogIndex(storage);
  const judged = await mapLimit(manifests, 16, (o) => judge(storage, o, idOf(o.key, MANIFEST_SUFFIX), index));
  const entries: IndexEntry[] = [];
  judged.forEach((v, i) => {
    if (!v) return;
    const o = manifests[i]!;
    if ("summary" in v) {
      backups.push(v.summary);
      entries.push({ key: o.key, version: o.version, size: o.size, summary: v.summary });
    } else damaged.push({ key: o.key, id: idOf(o.key, MANIFEST_SUFFIX), reason: v.reason });
  });
  if (!type) await refreshIndex(storage, index, entries);

  backups.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
  damaged.sort(byKey);
  return { backups, damaged };
}

/**
 * After a whole-store scan: remembers its summaries (a backup that follows adds its own to them), and rewrites the
 * index when it lacked a good manifest or still holds a removed one, so the next process reads one object, not every manifest.
 */
async function refreshIndex(storage: Storage, index: Map<string, IndexEntry> | null, entries: IndexEntry[]): Promise<void> {
  rememberCatalog(storage, entries);
  if (!index) return; // every verdict came from this process: it read or wrote the index already
  const current = entries.length === index.size && entries.every((e) => entryFor(index, { key: e.key, version: e.version, size: e.size, modified: new Date(0) }));
  if (!current) await writeCatalogIndex(storage, entries);
}

/** Only the leftovers of killed runs, from the markers and a stat or two each: cheap enough for the start of every backup. */
export async function findLeftovers(storage: Storage): Promise<Pick<CatalogScan, "incomplete" | "staleMarkers">> {
  const incomplete: IncompleteBackup[] = [];
  const staleMarkers: string[] = [];
  for (const o of await storage.list(PENDING_PREFIX)) {
    const id = o.key.slice(PENDING_PREFIX.length, -MANIFEST_SUFFIX.length);
    if (!o.key.endsWith(MANIFEST_SUFFIX) || !isBackupId(id)) continue;
    if (await storage.stat(manifestKey(id))) {
      staleMarkers.push(o.key);
      continue;
    }
    const archive = await storage.stat(archiveKey(id));
    incomplete.push({ id, marker: o.key, archive: archive && { key: archive.key, sizeBytes: archive.size }, ...(await markerFacts(storage, o.key)) });
  }
  return { incomplete, staleMarkers };
}

/** What a marker says about its run; a marker that cannot be read still marks the run as started. */
async function markerFacts(storage: Storage, key: string): Promise<Pick<IncompleteBackup, "startedAt" | "pid" | "host">> {
  try {
    const m = JSON.parse((await storage.getBuffer(key)).toString("utf8")) as Record<string, unknown>;
    return {
      startedAt: typeof m.startedAt === "string" ? m.startedAt : null,
      pid: typeof m.pid === "number" ? m.pid : null,
      host: typeof m.host === "string" ? m.host : null,
    };
  } catch {
    return { startedAt: null, pid: null, host: null };
  }
}

/** Like Promise.all over items, with at most `limit` running at once (S3 and file handles are finite). */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
