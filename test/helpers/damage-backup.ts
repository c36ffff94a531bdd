// Flips one stored byte of a backup of either format: in a v1 archive, or inside a blob of a v2 pack.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Engine } from "../../core/engine.ts";
import type { ComponentName, StoredManifest } from "../../core/manifest.ts";

/** Damages what a restore of `component` must read; returns the store file that was changed. */
export function flipStoredByte(engine: Engine, m: StoredManifest, component: ComponentName = "uploads"): string {
  let file: string;
  let at: number;
  if (m.formatVersion === 1) {
    file = path.join(engine.config.backupDir, m.archive.key);
    at = -100; // inside the last gzip member, past the manifest
  } else {
    const ref = m.components[component]?.files.find((f) => f.blobs.length > 0)?.blobs[0];
    if (!ref) throw new Error(`flipStoredByte: backup ${m.id} stores no ${component} blob`);
    file = path.join(engine.config.backupDir, ref.pack);
    at = ref.offset + Math.floor(ref.length / 2);
  }
  const bytes = readFileSync(file);
  const i = at < 0 ? bytes.length + at : at;
  bytes[i] = bytes[i]! ^ 0xff;
  writeFileSync(file, bytes);
  return file;
}
