// Making a freshly written tree durable at once: one syncfs(2) for the filesystem, else an fsync of every file and folder.
import { spawn } from "node:child_process";
import { open } from "node:fs/promises";

/** fsyncs in flight in the fallback: libuv runs four at once anyway, a few more keep its queue full. */
const FALLBACK_CONCURRENCY = 8;

/**
 * Durably writes every file in `files` and every folder in `folders` (all on the filesystem holding `dir`).
 * An fsync per file costs one journal commit each, which on a busy disk dominated staging (hundreds of small
 * uploads: seconds); syncfs(2), which Node does not bind, commits the whole filesystem once, directory entries
 * included. GNU coreutils' `sync -f` is that call; where it is missing or fails, every file and folder is fsynced.
 */
export async function syncTree(dir: string, files: readonly string[], folders: readonly string[]): Promise<void> {
  if (await syncfs(dir)) return;
  const all = [...files, ...folders];
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const fh = await open(all[next++]!, "r");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FALLBACK_CONCURRENCY, all.length) }, worker));
}

function syncfs(dir: string): Promise<boolean> {
  if (process.platform !== "linux") return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn("sync", ["-f", dir], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("close", (code) => resolve(code === 0));
  });
}
