// Plants N v2 backups of bench size into an fs store for the listing benchmark: manifests as large as real ones, gzipped as real ones are, written directly.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { CATALOG_INDEX_KEY, summarizeManifest, type IndexEntry } from "../core/catalog-index.ts";
import path from "node:path";
import { manifestKey } from "../core/ids.ts";
import { gzipText, manifestText } from "../core/manifest-codec.ts";
import { BACKUP_TYPES, DATABASE_ENTRY, type BlobRef, type FileEntryV2, type StoredManifestV2 } from "../core/manifest.ts";
import { DB_CHUNK_SIZE } from "../core/v2/blob-codec.ts";

/** Bench scale 1 (bench/README.md): a ~104 MB database in DB_CHUNK_SIZE pieces, ~3,900 upload files, ~90 logs. */
export const SCALE1 = { dbPieces: Math.ceil(109_051_904 / DB_CHUNK_SIZE), uploadFiles: 3_900, logFiles: 90 };

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * Grows one real manifest to bench size: the database file gets `dbPieces` pieces and uploads and logs get that many
 * files, with distinct hashes and packs, so JSON.parse and the schema check do a real backup's work.
 */
export function inflateManifest(m: StoredManifestV2, scale = SCALE1): StoredManifestV2 {
  const packs = Array.from({ length: 64 }, (_, i) => { const h = sha(`pack ${i}`); return `data/packs/${h.slice(0, 2)}/${h}.pack`; });
  const ref = (name: string, size: number, i: number): BlobRef => ({ sha256: sha(name), size, pack: packs[i % packs.length]!, offset: (i * 9_973) % 4_000_000, length: Math.ceil(size / 3), encoding: i % 5 === 0 ? "raw" : "gzip" });
  const source = (i: number) => ({ size: 1000 + i, mtimeNs: `${1764400000000000000n + BigInt(i) * 1000n}`, ctimeNs: `${1764400000000000000n + BigInt(i) * 1000n}`, ino: `${100000 + i}` });
  const file = (p: string, size: number, i: number): FileEntryV2 => ({ path: p, size, sha256: sha(`file ${p}`), mode: 0o644, mtime: "2026-11-25T10:00:00.000Z", blobs: [ref(`blob ${p}`, size, i)], source: source(i) });
  const components = structuredClone(m.components);
  const db = components.database?.files.find((f) => f.path === DATABASE_ENTRY);
  if (db) {
    db.blobs = Array.from({ length: scale.dbPieces }, (_, i) => ref(`db piece ${i}`, DB_CHUNK_SIZE, i));
    db.size = scale.dbPieces * DB_CHUNK_SIZE;
  }
  const kinds = ["photos", "contracts", "documents"];
  if (components.uploads) {
    components.uploads.files = Array.from({ length: scale.uploadFiles }, (_, i) => file(`uploads/${kinds[i % 3]}/2026/${String(1 + (i % 12)).padStart(2, "0")}/customer-${i % 700}/file-${i}.${i % 3 === 0 ? "jpg" : i % 3 === 1 ? "pdf" : "md"}`, 20_000 + i * 13, i));
    components.uploads.fileCount = components.uploads.files.length;
  }
  if (components.logs) {
    components.logs.files = Array.from({ length: scale.logFiles }, (_, i) => ({ ...file(`logs/rotated/2026-${String(1 + (i % 12)).padStart(2, "0")}/app-${i}.log.gz`, 50_000, i), originalSize: 200_000 }));
    components.logs.fileCount = components.logs.files.length;
  }
  return { ...m, components };
}

/**
 * Writes `count` copies of `m` under new ids, an hour apart and cycling through the backup types, stored as the
 * writer stores them (core/manifest-codec.ts: gzipped); returns the stored bytes of one.
 * With `index`, each copy's catalog index entry is added too, as the backup that wrote it would have (core/catalog-index.ts).
 * Gzipping 999 multi-MB texts whole would take minutes, so each copy is three gzip members (one stream to gunzip,
 * RFC 1952): the components, compressed once and shared, between its own head and tail (id, type, dates).
 */
export function plantCopies(storeRoot: string, m: StoredManifestV2, count: number, index = false): number {
  const raw = manifestText(m);
  const start = raw.indexOf('\n  "components": ');
  const end = raw.indexOf("\n  }", start) + "\n  }".length; // the components' closing brace, the only one at this indent
  const components = raw.slice(start, end);
  if (start < 0 || components.includes(m.id) || components.includes(m.createdAt)) throw new Error("plantCopies: expected no id or date in the components");
  const componentsGz = gzipText(components);
  const own = (text: string, id: string, type: string, at: string) => gzipText(text.replaceAll(m.id, id).replace(`"type": "${m.type}"`, `"type": "${type}"`).replaceAll(m.createdAt, at));
  const summary = JSON.stringify(summarizeManifest(m));
  const indexFile = path.join(storeRoot, CATALOG_INDEX_KEY);
  const entries: IndexEntry[] = index && existsSync(indexFile) ? (JSON.parse(readFileSync(indexFile, "utf8")) as { entries: IndexEntry[] }).entries : [];
  let bytes = 0;
  for (let i = 1; i <= count; i++) {
    const at = new Date(Date.parse(m.createdAt) - i * 3_600_000);
    const type = BACKUP_TYPES.filter((t) => t !== "pre-restore")[i % 4]!;
    const id = `${type}-${at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")}-${i.toString(16).padStart(6, "0")}`;
    const body = Buffer.concat([own(raw.slice(0, start), id, type, at.toISOString()), componentsGz, own(raw.slice(end), id, type, at.toISOString())]);
    bytes = body.length;
    const file = path.join(storeRoot, manifestKey(id));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, body);
    if (!index) continue;
    const st = statSync(file);
    const sum = summary.replaceAll(m.id, id).replace(`"type":"${m.type}"`, `"type":"${type}"`).replaceAll(m.createdAt, at.toISOString());
    entries.push({ key: manifestKey(id), version: `${st.mtimeMs}-${st.size}-${st.ino}`, size: st.size, summary: JSON.parse(sum) });
  }
  if (index) writeFileSync(indexFile, JSON.stringify({ formatVersion: 1, entries }) + "\n");
  return bytes;
}
