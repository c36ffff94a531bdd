// One listing of an fs store by a fresh process (what the CLI's `list` or a cold Lambda pays): prints its time and count as JSON.
// Usage: node --import tsx bench/catalog-cold.ts <store folder>
import { scanCatalog } from "../core/catalog-scan.ts";
import { FsStorage } from "../core/storage/fs-storage.ts";

const dir = process.argv[2];
if (!dir) throw new Error("catalog-cold: give the store folder as the first argument");
const t = performance.now();
const scan = await scanCatalog(new FsStorage(dir));
console.log(JSON.stringify({ ms: performance.now() - t, backups: scan.backups.length, damaged: scan.damaged.length }));
