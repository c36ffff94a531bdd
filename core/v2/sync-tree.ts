// Making a freshly written tree durable at once: an fsync of each file and folder when they are few, else one syncfs(2).
import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import { mapInOrder } from "./bounded.ts";

/** fsyncs in flight at once: the filesystem's journal commits them together; libuv runs four at once anyway. */
const FSYNC_CONCURRENCY = 8;

/**
 * Up to this many files and folders are fsynced one by one (side by side, so they share journal commits); more are
 * committed with one syncfs. A restore onto nearly equal data stages a few dozen files beside its 100 MB database, which
 * needs no fsync (SQLite copies it into the live database and makes that durable itself): a syncfs wrote it out too,
 * with every other dirty page of the filesystem, other programs' included.
 */
export const FSYNC_EACH_LIMIT = 256;

/**
 * Durably writes every file in `files` and every folder in `folders` (all on the filesystem holding `dir`).
 * An fsync per file costs one journal commit each, which on a busy disk dominated staging when thousands of uploads
 * were staged; syncfs(2), which Node does not bind, commits the whole filesystem once, directory entries included.
 * GNU coreutils' `sync -f` is that call; where it is missing or fails, every file and folder is fsynced.
 */
export async function syncTree(dir: string, files: readonly string[], folders: readonly string[]): Promise<void> {
  const all = [...files, ...folders];
  if (all.length > FSYNC_EACH_LIMIT && (await syncfs(dir))) return;
  await mapInOrder(all, FSYNC_CONCURRENCY, async (name) => {
    const fh = await open(name, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

function syncfs(dir: string): Promise<boolean> {
  if (process.platform !== "linux") return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn("sync", ["-f", dir], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("close", (code) => resolve(code === 0));
  });
}
