// Where a kept fs store's bytes went, backup by backup (oldest first): the manifest, and each stored blob the backup
// referenced first, by kind (uploads, whole database pieces, page bundles, logs, config), with the patches it added
// and how old their base was. Usage: npx tsx bench/store-bytes.ts STORE_DIR (e.g. a store kept by store-growth.ts --keep)
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { decodeManifest } from "../core/manifest-codec.ts";
import type { BlobRef, FileEntryV2, StoredBlob } from "../core/manifest.ts";

const store = process.argv[2];
if (!store) throw new Error("usage: store-bytes.ts STORE_DIR");

interface M { id: string; bytes: number; created: string; components: Record<string, { files: FileEntryV2[] }> }
const manifests: M[] = [];
for (const type of readdirSync(store)) {
  if (type === "data" || type === "catalog" || !statSync(path.join(store, type)).isDirectory()) continue;
  for (const f of readdirSync(path.join(store, type))) {
    if (!f.endsWith(".json")) continue;
    const raw = readFileSync(path.join(store, type, f));
    const m = decodeManifest(raw) as { id: string; createdAt: string; formatVersion: number; components: M["components"] };
    if (m.formatVersion !== 2) continue;
    manifests.push({ id: m.id, bytes: raw.length, created: m.createdAt, components: m.components });
  }
}
manifests.sort((a, b) => a.created.localeCompare(b.created));

const seen = new Set<string>();
const baseDay = new Map<string, number>();
const key = (b: StoredBlob) => `${b.pack}:${b.offset}`;
const mb = (n: number) => (n / 1e6).toFixed(3);
const totals: Record<string, number> = {};
let prevPieces = Infinity;
console.log("day manifest uploads dbWhole(n) bundles(n) logs config | newPatches avgLen avgBaseAge appended(MB) livePatches");
manifests.forEach((m, day) => {
  const add: Record<string, number> = { manifest: m.bytes, uploads: 0, dbWhole: 0, bundles: 0, logs: 0, config: 0 };
  let wholeN = 0, bundleN = 0, newPatches = 0, patchBytes = 0, ageSum = 0, live = 0, appended = 0;
  const counted = new Set<string>();
  for (const [name, c] of Object.entries(m.components)) {
    for (const f of c.files) {
      (f.blobs as BlobRef[]).forEach((b, i) => {
        const stored: [StoredBlob, string][] = [[{ ...b, sha256: b.base ?? b.sha256 }, name === "database" ? "dbWhole" : name]];
        for (const p of b.patches ?? []) {
          stored.push([p.bundle, "bundles"]);
          live++;
          const pk = `${key(p.bundle)}:${p.from}`;
          if (!counted.has(pk) && !seen.has(pk)) {
            counted.add(pk);
            newPatches++;
            patchBytes += p.length;
            ageSum += day - (baseDay.get(key(b)) ?? day);
          }
        }
        for (const [s, kind] of stored) {
          const k = key(s);
          if (seen.has(k) || counted.has(k)) continue;
          counted.add(k);
          add[kind] = (add[kind] ?? 0) + s.length;
          if (kind === "dbWhole") { wholeN++; baseDay.set(k, day); if (i >= prevPieces - 1) appended += s.length; }
          if (kind === "bundles") bundleN++;
        }
      });
      if (name === "database") prevPieces = f.blobs.length;
    }
  }
  for (const k of counted) seen.add(k);
  if (day > 0) for (const [k, v] of Object.entries(add)) totals[k] = (totals[k] ?? 0) + v;
  console.log(`${day} ${mb(add.manifest!)} ${mb(add.uploads!)} ${mb(add.dbWhole!)}(${wholeN}) ${mb(add.bundles!)}(${bundleN}) ${mb(add.logs ?? 0)} ${mb(add.config ?? 0)} | ${newPatches} ${newPatches ? Math.round(patchBytes / newPatches) : 0} ${newPatches ? (ageSum / newPatches).toFixed(1) : 0} ${mb(appended)} ${live}`);
});
console.log(`after the first, MB: ${Object.entries(totals).map(([k, v]) => `${k} ${mb(v)}`).join(", ")}`);
