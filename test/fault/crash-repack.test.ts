// Fault: a cleanup that repacks dies before each of its store writes in turn (as kill -9 would leave the store: every put is
// atomic, so a dead process leaves each object old or new), then every listed backup must verify and restore, and the
// next cleanups must finish the job: the old packs gone, nothing a backup needs lost, no temp files.
import { cpSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { listBackups, readManifest } from "../../core/catalog.ts";
import { forgetCatalogIndex } from "../../core/catalog-index.ts";
import { deleteBackup, runCleanup } from "../../core/cleanup.ts";
import type { Engine } from "../../core/engine.ts";
import { LOCK_KEY } from "../../core/ids.ts";
import type { StoredManifest } from "../../core/manifest.ts";
import { runRestore } from "../../core/restore.ts";
import type { Storage } from "../../core/storage/storage.ts";
import { PACK_GRACE_MS } from "../../core/v2/gc.ts";
import { verifyBackup } from "../../core/verify.ts";
import { makeCrm, makeTestEngine, tempDir, treeDigest } from "../helpers/crm.ts";
import { randomBytes } from "node:crypto";

const later = (engine: Engine): Engine => ({ ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) });
const packsOf = (m: StoredManifest): Set<string> =>
  new Set(m.formatVersion === 2 ? Object.values(m.components).flatMap((c) => c.files.flatMap((f) => f.blobs.map((b) => b.pack))) : []);
const WRITES = new Set(["put", "delete", "createExclusive", "setTags"]);

class Killed extends Error {}

/** The storage as a process sees it that dies before its `dieAt`-th write (1-based): that write and everything after fail. */
function dyingStorage(storage: Storage, dieAt: number): { storage: Storage; writes: () => number } {
  let writes = 0;
  let dead = false;
  const wrapped = new Proxy(storage, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (dead) return Promise.reject(new Killed("killed"));
        if (WRITES.has(String(prop)) && ++writes >= dieAt) {
          dead = true;
          return Promise.reject(new Killed("killed"));
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { storage: wrapped, writes: () => writes };
}

describe("fault: a repacking cleanup killed before each of its writes", () => {
  it("leaves every backup restorable, and the next cleanups free the old packs", { timeout: 600_000 }, async () => {
    const crm = makeCrm();
    const seedStore = tempDir("repack-seed-");
    const seed = makeTestEngine(crm.root, seedStore, { BACKUP_FORMAT: "v2" });
    await runBackup(seed, { type: "manual" });
    for (let i = 1; i <= 6; i++) writeFileSync(path.join(crm.root, `uploads/big${i}.bin`), randomBytes(300_000));
    const second = await runBackup(seed, { type: "manual" });
    for (let i = 1; i <= 4; i++) rmSync(path.join(crm.root, `uploads/big${i}.bin`));
    await runBackup(seed, { type: "manual" });
    const tree = treeDigest(path.join(crm.root, "uploads"));
    if (second.skipped) throw new Error("expected a backup");
    await deleteBackup(later(seed), second.manifest.id, "test");

    // How many writes a whole cleanup makes, and that it repacks at all.
    const countStore = tempDir("repack-count-");
    cpSync(seedStore, countStore, { recursive: true });
    const counting = makeTestEngine(crm.root, countStore, { BACKUP_FORMAT: "v2" });
    const counter = dyingStorage(counting.storage, Infinity);
    const full = await runCleanup(later({ ...counting, storage: counter.storage }), { actor: "test" });
    expect(full.repack.packsRepacked.length).toBeGreaterThan(0);
    expect(full.repack.manifestsRewritten).toBeGreaterThan(0);
    const total = counter.writes();
    expect(total).toBeGreaterThanOrEqual(5); // lock, packs, record, manifests, index, audit

    for (let dieAt = 1; dieAt <= total; dieAt++) {
      const store = tempDir(`repack-kill-${dieAt}-`);
      cpSync(seedStore, store, { recursive: true });
      const engine = makeTestEngine(crm.root, store, { BACKUP_FORMAT: "v2" });
      const dying = dyingStorage(engine.storage, dieAt);
      await expect(runCleanup(later({ ...engine, storage: dying.storage }), { actor: "test" }), `killed before write ${dieAt}`).rejects.toThrow(Killed);
      forgetCatalogIndex(); // a new process
      await engine.storage.delete(LOCK_KEY); // the dead holder's lock, which the next run would take over
      const listed = await listBackups(engine.storage);
      expect(listed.length, `killed before write ${dieAt}`).toBe(2);
      for (const b of listed) expect((await verifyBackup(engine, b.id)).ok, `backup ${b.id} after a kill before write ${dieAt}`).toBe(true);

      // The next cleanups finish: the second, past the record's grace, deletes every pack no backup references.
      await runCleanup(later(engine), { actor: "test" });
      await runCleanup(later(engine), { actor: "test" });
      const used = new Set<string>();
      for (const b of await listBackups(engine.storage)) for (const p of packsOf(await readManifest(engine.storage, b.id))) used.add(p);
      const present = (await engine.storage.list("data/packs/")).map((o) => o.key);
      expect(present.sort(), `packs after a kill before write ${dieAt} and two cleanups`).toEqual([...used].sort());
      for (const p of full.repack.packsRepacked) expect(present).not.toContain(p);
      expect(readdirSync(path.join(store, "temp")).filter((n) => !n.startsWith("."))).toEqual([]);
      for (const b of listed) expect((await verifyBackup(engine, b.id)).ok).toBe(true);
      if (dieAt === total) {
        // Once, the newest backup restores byte for byte from the repacked store.
        rmSync(path.join(crm.root, "uploads/big6.bin"));
        await runRestore(engine, { backupId: listed[0]!.id, components: ["uploads"], confirm: "CONFIRM_RESTORE" });
        expect(treeDigest(path.join(crm.root, "uploads"))).toEqual(tree);
      }
    }
  });
});
