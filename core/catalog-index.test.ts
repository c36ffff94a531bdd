// The catalog index: a fresh process lists from one object, and still reads (and judges) every manifest the index does not vouch for.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeCrm, makeTestEngine } from "../test/helpers/crm.ts";
import { decodeManifest } from "./manifest-codec.ts";
import { runBackup } from "./backup.ts";
import { CATALOG_INDEX_KEY } from "./catalog-index.ts";
import { scanCatalog } from "./catalog-scan.ts";
import { manifestKey } from "./ids.ts";
import type { Storage } from "./storage/storage.ts";
import { CountingStorage } from "./v2/counting-storage.ts";

let processes = 0;
/**
 * The store as a new process sees it: the scan's in-process cache is keyed by the store's description, so a new one
 * starts empty. Records which objects were read whole.
 */
class FreshProcess extends CountingStorage {
  readonly reads: string[] = [];
  private readonly name: string;
  constructor(private readonly store: Storage) {
    super(store);
    this.name = `${store.description}#process-${++processes}`;
  }
  override get description() { return this.name; }
  override getBuffer(key: string) {
    this.reads.push(key);
    return this.store.getBuffer(key);
  }
}
const freshProcess = (inner: Storage) => new FreshProcess(inner);

async function twoBackups() {
  const engine = makeTestEngine(makeCrm().root, undefined, { BACKUP_FORMAT: "v2" });
  const ids: string[] = [];
  for (const type of ["daily", "manual"] as const) {
    const out = await runBackup(engine, { type });
    if (out.skipped) throw new Error("unexpected skip");
    ids.push(out.manifest.id);
  }
  return { engine, ids, root: engine.config.backupDir };
}

describe("catalog index", () => {
  it("is written by each backup, and a new process lists from it without reading a manifest", async () => {
    const { engine, ids } = await twoBackups();
    expect(await engine.storage.stat(CATALOG_INDEX_KEY)).not.toBeNull();
    const store = freshProcess(engine.storage);
    const scan = await scanCatalog(store);
    expect(scan.backups.map((b) => b.id).sort()).toEqual([...ids].sort());
    expect(scan.backups[0]!.components.uploads).not.toHaveProperty("files");
    expect(store.reads).toEqual([CATALOG_INDEX_KEY]);
  });

  it("reads a manifest changed since it was indexed: a damaged one is listed as damaged, a rewritten one as rewritten", async () => {
    const { engine, ids, root } = await twoBackups();
    writeFileSync(path.join(root, manifestKey(ids[0]!)), "{ not json");
    const m = decodeManifest(await engine.storage.getBuffer(manifestKey(ids[1]!))) as Record<string, unknown>;
    writeFileSync(path.join(root, manifestKey(ids[1]!)), JSON.stringify({ ...m, description: "rewritten by hand" }));
    const store = freshProcess(engine.storage);
    const scan = await scanCatalog(store);
    expect(scan.damaged.map((d) => d.id)).toEqual([ids[0]]);
    expect(scan.damaged[0]!.reason).toMatch(/not valid JSON/);
    expect(scan.backups.map((b) => [b.id, b.description])).toEqual([[ids[1], "rewritten by hand"]]);
    expect(store.reads.sort()).toEqual([CATALOG_INDEX_KEY, manifestKey(ids[0]!), manifestKey(ids[1]!)].sort());
  });

  it("serves an old store (no index) from its manifests, writes the index, and drops removed backups from it", async () => {
    const { engine, ids } = await twoBackups();
    await engine.storage.delete(CATALOG_INDEX_KEY);
    const first = freshProcess(engine.storage);
    expect((await scanCatalog(first)).backups).toHaveLength(2);
    expect(first.reads.filter((k) => k !== CATALOG_INDEX_KEY).sort()).toEqual(ids.map(manifestKey).sort());
    const second = freshProcess(engine.storage);
    expect((await scanCatalog(second)).backups).toHaveLength(2);
    expect(second.reads).toEqual([CATALOG_INDEX_KEY]);

    await engine.storage.delete(manifestKey(ids[0]!));
    expect((await scanCatalog(freshProcess(engine.storage))).backups.map((b) => b.id)).toEqual([ids[1]]);
    const index = JSON.parse((await engine.storage.getBuffer(CATALOG_INDEX_KEY)).toString("utf8")) as { entries: { key: string }[] };
    expect(index.entries.map((e) => e.key)).toEqual([manifestKey(ids[1]!)]);
  });

  it("ignores an index that is not one, or whose entry does not match its manifest's id, and reads the manifests", async () => {
    const { engine, ids } = await twoBackups();
    const good = JSON.parse((await engine.storage.getBuffer(CATALOG_INDEX_KEY)).toString("utf8")) as { entries: { key: string; summary: { id: string; description: string } }[] };
    // An entry claiming another backup's summary under this key, as a forged or mixed-up index might.
    const [a, b] = good.entries;
    await engine.storage.put(CATALOG_INDEX_KEY, JSON.stringify({ ...good, entries: [{ ...a, summary: b!.summary }, b] }));
    const forged = freshProcess(engine.storage);
    expect((await scanCatalog(forged)).backups.map((x) => x.id).sort()).toEqual([...ids].sort());
    expect(forged.reads).toContain(a!.key);

    await engine.storage.put(CATALOG_INDEX_KEY, "not an index");
    const garbage = freshProcess(engine.storage);
    expect((await scanCatalog(garbage)).backups).toHaveLength(2);
    expect(garbage.reads.sort()).toEqual([CATALOG_INDEX_KEY, ...ids.map(manifestKey)].sort());
  });
});
