// Free space before a restore: what the chosen components need on the disk that holds staging, against what it has.
import { stat, statfs } from "node:fs/promises";
import path from "node:path";
import { ValidationError } from "./errors.ts";
import type { ComponentName, StoredManifest } from "./manifest.ts";
import { humanSize } from "./units.ts";

/** A file takes whole blocks; 4 KiB covers common filesystems' rounding and the folders that hold the files. */
const PER_FILE_OVERHEAD = 4096;
/** Room for SQLite's own journal while the backup API writes, and for whatever the CRM writes meanwhile. */
const FIXED_MARGIN = 1024 * 1024;
/** Old backups recorded no uncompressed size for logs; text logs rarely gzip better than this. */
const ASSUMED_LOG_RATIO = 10;

/**
 * Bytes the restore writes on the staging disk before the swap frees anything: every selected entry as extracted;
 * logs both gzipped and gunzipped (each .gz is removed only after its .log is written); the database staged, plus a
 * rollback snapshot of the live one, plus the live file's growth to the staged size.
 */
export function restoreSpaceNeeded(manifest: Pick<StoredManifest, "components">, components: readonly ComponentName[], liveDatabaseBytes = 0): number {
  let bytes = FIXED_MARGIN;
  for (const c of components) {
    for (const f of manifest.components[c]?.files ?? []) {
      bytes += PER_FILE_OVERHEAD + f.size;
      if (c === "logs") bytes += f.originalSize ?? f.size * ASSUMED_LOG_RATIO;
      if (c === "database") bytes += Math.max(f.size, liveDatabaseBytes);
    }
  }
  return bytes;
}

/** Refuses the restore when the disk holding `dir` (the staging parent, i.e. CRM_ROOT) has less free space than it needs. */
export async function checkRestoreSpace(
  manifest: Pick<StoredManifest, "id" | "components">,
  components: readonly ComponentName[],
  opts: { dir: string; liveDatabase?: string },
): Promise<void> {
  const live = opts.liveDatabase ? await sizeIfPresent(opts.liveDatabase) + await sizeIfPresent(`${opts.liveDatabase}-wal`) : 0;
  const needed = restoreSpaceNeeded(manifest, components, live);
  const fs = await statfs(opts.dir);
  // bavail, not bfree: the blocks reserved for root are not ours to count on, even when the restore runs as root.
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (needed > free) {
    const mount = await mountPointOf(opts.dir);
    const disk = mount === opts.dir ? opts.dir : `the disk holding ${opts.dir} (mounted at ${mount})`;
    throw new ValidationError(
      `restore ${manifest.id}: needs ${humanSize(needed)} on ${disk}, has ${humanSize(free)}; free space or restore fewer components (chosen: ${components.join(", ")})`,
    );
  }
}

async function sizeIfPresent(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
}

/** The mount point of the filesystem holding `dir`: the highest ancestor still on the same device. */
export async function mountPointOf(dir: string): Promise<string> {
  let current = path.resolve(dir);
  const dev = (await stat(current)).dev;
  for (;;) {
    const parent = path.dirname(current);
    if (parent === current) return current;
    const st = await stat(parent).catch(() => null);
    if (!st || st.dev !== dev) return current;
    current = parent;
  }
}
