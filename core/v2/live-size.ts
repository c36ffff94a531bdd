// The bytes a v2 backup will look at, measured before it starts, so its progress has a real total.
import { lstat } from "node:fs/promises";
import type { Engine } from "../engine.ts";
import type { ComponentName } from "../manifest.ts";
import { walkFiles } from "../sources/files.ts";

/**
 * Sizes of the live files of `components` (the database file as it is now; its snapshot may differ by the WAL).
 * Only a total for the progress bar: a missing folder counts 0, and the writer reports the real figures at the end.
 */
export async function liveBytes(engine: Engine, components: readonly ComponentName[]): Promise<number> {
  const { paths } = engine.config;
  const size = (file: string) => lstat(file).then((s) => (s.isFile() ? s.size : 0), () => 0);
  let total = 0;
  for (const c of components) {
    if (c === "database") total += await size(paths.database);
    else if (c === "config") for (const f of paths.configFiles) total += await size(f);
    else {
      const root = c === "uploads" ? paths.uploads : paths.logs;
      const walked = await walkFiles(root, c === "logs" ? (rel) => rel.endsWith(".log") : undefined).catch(() => null);
      for (const rel of walked?.files ?? []) total += await size(`${root}/${rel}`);
    }
  }
  return total;
}
