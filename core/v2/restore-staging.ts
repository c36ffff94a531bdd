// Restore's staging for v2 backups: the chosen components written from checked blobs into the layout tar extraction makes.
import { mkdir } from "node:fs/promises";
import type { Progress } from "../engine.ts";
import type { ComponentName, StoredManifestV2 } from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { PackReader, materializeFiles } from "./reader.ts";

/** After this, `stagedFiles` looks exactly as if a v1 archive of the same backup had been extracted there. */
export async function stageV2Components(storage: Storage, manifest: StoredManifestV2, components: readonly ComponentName[], stagedFiles: string, onProgress?: (p: Progress) => void): Promise<void> {
  await mkdir(stagedFiles, { recursive: false, mode: 0o700 });
  const reader = new PackReader(storage);
  const total = components.reduce((n, c) => n + (manifest.components[c]?.totalSize ?? 0), 0);
  let done = 0;
  for (const c of components) {
    await materializeFiles(reader, c, manifest.components[c]?.files ?? [], stagedFiles, (n) => onProgress?.({ phase: "extract", done: (done += n), total }));
  }
}
