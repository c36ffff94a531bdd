// Cached listings for the API's views: an unchanged fs store is listed by folder tokens, and every change made through
// the store (added, replaced, damaged, deleted manifest) shows on the next scan, the token itself deciding.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeCrm, makeTestEngine } from "../test/helpers/crm.ts";
import { runBackup } from "./backup.ts";
import { LISTING_TRUST_MS } from "./catalog-listing.ts";
import { scanCatalog } from "./catalog-scan.ts";
import { manifestKey } from "./ids.ts";
import { encodeManifest } from "./manifest-codec.ts";
import type { StoredManifestV2 } from "./manifest.ts";
import { FsStorage } from "./storage/fs-storage.ts";

// The fs token is withheld for 2 s after a folder changed; a Date moved past that makes every scan below rely on the
// token alone (no fallback listing), and the pauses keep each change out of the previous one's timestamp tick.
let shift = 5_000;
const realNow = () => performance.timeOrigin + performance.now();
const settle = () => vi.setSystemTime(realNow() + shift);
const pause = () => new Promise((r) => setTimeout(r, 25));

async function store() {
  const engine = makeTestEngine(makeCrm().root, undefined, { BACKUP_FORMAT: "v2" });
  const out = await runBackup(engine, { type: "daily" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  const storage = new FsStorage(engine.config.backupDir, { tempDir: path.join(engine.config.backupDir, "temp") });
  const lists = vi.spyOn(storage, "list");
  const scan = async () => {
    await pause();
    settle();
    return scanCatalog(storage, undefined, { cachedListing: true });
  };
  expect((await scan()).backups).toHaveLength(1);
  return { storage, lists, scan, m: out.manifest as StoredManifestV2, root: engine.config.backupDir };
}
const otherId = (id: string) => id.slice(0, -6) + "abc123";

describe("cached listings (API views)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    shift = 5_000;
  });
  afterEach(() => vi.useRealTimers());

  it("answer an unchanged store without listing it, and a plain scan still lists", async () => {
    const { storage, lists, scan } = await store();
    lists.mockClear();
    expect((await scan()).backups).toHaveLength(1);
    expect(lists).not.toHaveBeenCalled();
    await scanCatalog(storage);
    expect(lists).toHaveBeenCalled();
  });

  it("show a manifest added beside the others", async () => {
    const { storage, scan, m } = await store();
    const id = otherId(m.id);
    await storage.put(manifestKey(id), encodeManifest({ ...m, id }), { ifAbsent: true });
    expect((await scan()).backups.map((b) => b.id).sort()).toEqual([m.id, id].sort());
  });

  it("show a replaced manifest as it is now", async () => {
    const { storage, scan, m } = await store();
    await storage.put(manifestKey(m.id), encodeManifest({ ...m, description: "replaced" }));
    expect((await scan()).backups.map((b) => b.description)).toEqual(["replaced"]);
  });

  it("show a manifest damaged through the store as damaged", async () => {
    const { storage, scan, m } = await store();
    await storage.put(manifestKey(m.id), "{ not json");
    const again = await scan();
    expect(again.backups).toEqual([]);
    expect(again.damaged.map((d) => d.id)).toEqual([m.id]);
  });

  it("drop a deleted manifest", async () => {
    const { storage, scan, m } = await store();
    await storage.delete(manifestKey(m.id));
    expect((await scan()).backups).toEqual([]);
  });

  it("notice a manifest rewritten in place by hand (folder untouched) once LISTING_TRUST_MS has passed", async () => {
    const { scan, m, root } = await store();
    writeFileSync(path.join(root, manifestKey(m.id)), "{ rewritten in place"); // same inode: no folder change
    shift += LISTING_TRUST_MS;
    expect((await scan()).damaged.map((d) => d.id)).toEqual([m.id]);
  });
});
