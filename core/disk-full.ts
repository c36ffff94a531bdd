// Naming the full disk: ENOSPC and SQLite's "disk is full" become a DiskFullError that says which folder's disk it is.
import { statfs } from "node:fs/promises";
import { DiskFullError, errorMessage } from "./errors.ts";
import { humanSize } from "./units.ts";

function isDiskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL") return true;
    if (/database or disk is full/.test(errorMessage(e))) return true;
  }
  return false;
}

/**
 * Returns `err` unchanged unless it says a disk is full; then a DiskFullError naming `dir` (the folder being written)
 * and its free space. An error already naming its disk passes through.
 */
export async function nameFullDisk(err: unknown, dir: string, doing: string): Promise<unknown> {
  if (err instanceof DiskFullError || !isDiskFull(err)) return err;
  const fs = await statfs(dir).catch(() => null);
  const free = fs ? `${humanSize(fs.bavail * fs.bsize)} free of ${humanSize(fs.blocks * fs.bsize)}` : "free space unknown";
  return new DiskFullError(`${doing}: the disk holding ${dir} is full (${free}); free space there and try again`, { cause: err });
}
