// Fault: a real `colab-backup cleanup` process that repacks is SIGKILLed right before each of its store writes in turn
// (kill-repack-preload.mjs counts the fs store's renames, links and unlinks from outside the code). crash-repack.test.ts
// stops the same cleanup in-process; this one leaves what only a dead process leaves: its lock (held by a dead pid), a
// put's fsynced temp file, a half-finished index. After each kill: both backups list, verify with a full read and restore
// byte for byte; no manifest is lost, damaged or changed in content; the next real cleanup takes the lock over and ends,
// and the cleanups after the grace free the old packs' space.
// Checked to fail: with repack.ts holding the new packs' puts back until its manifests were replaced (the manifest put
// before the packs it points at exist), the kill before the index write left a backup whose verify found its pack missing.
import { cpSync, readdirSync, readFileSync, rmSync, utimesSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../../core/backup.ts";
import { listBackups, readManifest } from "../../core/catalog.ts";
import { forgetCatalogIndex } from "../../core/catalog-index.ts";
import { scanCatalog } from "../../core/catalog-scan.ts";
import { deleteBackup, runCleanup } from "../../core/cleanup.ts";
import type { Engine } from "../../core/engine.ts";
import { manifestKey } from "../../core/ids.ts";
import type { StoredManifest } from "../../core/manifest.ts";
import { runRestore } from "../../core/restore.ts";
import { PACK_GRACE_MS } from "../../core/v2/gc.ts";
import { verifyBackup } from "../../core/verify.ts";
import { makeCrm, makeTestEngine, tempDir } from "../helpers/crm.ts";
import { addBulk, crmState, json, listFiles, spawnCli, type CrmState } from "./helpers.ts";
import { recordFault } from "./record.ts";

const PRELOAD = path.join(import.meta.dirname, "kill-repack-preload.mjs");
const ALL = ["database", "uploads", "config", "logs"];
const later = (engine: Engine): Engine => ({ ...engine, now: () => new Date(Date.now() + PACK_GRACE_MS + 60_000) });
const packsOf = (m: StoredManifest): Set<string> =>
  new Set(m.formatVersion === 2 ? Object.values(m.components).flatMap((c) => c.files.flatMap((f) => f.blobs.map((b) => b.pack))) : []);
const packFiles = (store: string) => listFiles(path.join(store, "data/packs")).filter((f) => f.rel.endsWith(".pack"));

/** A manifest with every blob's place (pack, offset) taken out: what a repack may change, and nothing else. */
function content(m: StoredManifest): unknown {
  const strip = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(strip);
    if (x === null || typeof x !== "object") return x;
    return Object.fromEntries(Object.entries(x).filter(([k]) => k !== "pack" && k !== "offset").map(([k, v]) => [k, strip(v)]));
  };
  return strip(m);
}

/** Packs written over an hour ago, as they would be a day after the backups: only those may be repacked. */
function agePacks(store: string): void {
  const then = new Date(Date.now() - 2 * PACK_GRACE_MS);
  for (const f of packFiles(store)) utimesSync(path.join(store, "data/packs", f.rel), then, then);
}

describe("fault: kill -9 of a repacking `colab-backup cleanup` before each store write", () => {
  it("leaves both backups verifying and restoring byte for byte, every manifest intact, and the next cleanups free the space", { timeout: 900_000 }, async () => {
    const crm = makeCrm();
    const seedStore = tempDir("kill-repack-seed-");
    const seed = makeTestEngine(crm.root, seedStore, { BACKUP_FORMAT: "v2" });
    const first = await runBackup(seed, { type: "manual" });
    const firstState = crmState(crm.root);
    addBulk(crm.root, 1_200_000, 7, 6); // six incompressible 200 kB uploads, packed together
    const second = await runBackup(seed, { type: "manual" });
    for (let i = 0; i < 4; i++) rmSync(path.join(crm.root, `uploads/bulk/blob-${i}.bin`));
    const third = await runBackup(seed, { type: "manual" });
    const thirdState = crmState(crm.root);
    if (first.skipped || second.skipped || third.skipped) throw new Error("expected three backups");
    // The second backup goes: its packs stay, two thirds unused, since the third backup still uses two of its uploads.
    await deleteBackup(later(seed), second.manifest.id, "test");
    const expected = new Map<string, { state: CrmState; content: unknown }>();
    for (const [b, state] of [[first, firstState], [third, thirdState]] as const) {
      if (b.skipped) throw new Error("unreachable");
      expected.set(b.manifest.id, { state, content: content(await readManifest(seed.storage, b.manifest.id)) });
    }
    const seedPackBytes = packFiles(seedStore).reduce((n, f) => n + f.size, 0);

    const cwd = tempDir("kill-repack-cwd-");
    const trial = (n: number) => {
      const store = tempDir(`kill-repack-${n}-`);
      cpSync(seedStore, store, { recursive: true });
      agePacks(store);
      return store;
    };
    const cleanupCli = (store: string, log: string, killBefore = 0) =>
      spawnCli(["cleanup", "--max-repack", "64M", "--json"], {
        cwd,
        env: {
          CRM_ROOT: crm.root,
          BACKUP_DIR: store,
          NODE_OPTIONS: `--import ${PRELOAD}`,
          COLAB_TEST_STORE_ROOT: store,
          COLAB_TEST_STORE_WRITE_LOG: log,
          ...(killBefore ? { COLAB_TEST_KILL_BEFORE_STORE_WRITE: String(killBefore) } : {}),
        },
      }).done;
    const writesIn = (log: string) => readFileSync(log, "utf8").trim().split("\n");

    // One whole cleanup: it repacks, and which writes it makes in which order.
    const countStore = trial(0);
    const countLog = path.join(cwd, "writes-0.log");
    const full = await cleanupCli(countStore, countLog);
    expect(full.code, full.stderr).toBe(0);
    const outcome = json<{ repack: { packsRepacked: string[]; manifestsRewritten: number } }>(full);
    expect(outcome.repack.packsRepacked.length).toBeGreaterThan(0);
    expect(outcome.repack.manifestsRewritten).toBeGreaterThan(0);
    const writes = writesIn(countLog);
    const at = (re: RegExp) => writes.findIndex((w) => re.test(w));
    // The order a kill must find safe at every point: lock, new packs, record, manifests, (index, audit), unlock.
    expect(at(/^link locks\//)).toBe(0);
    expect(at(/^link data\/packs\//)).toBeGreaterThan(0);
    expect(at(/^link data\/repacked\//)).toBeGreaterThan(at(/^link data\/packs\//));
    const manifestWrites = writes.filter((w) => [...expected.keys()].some((id) => w === `rename ${manifestKey(id)}`));
    expect(manifestWrites.length).toBe(outcome.repack.manifestsRewritten);
    expect(writes.indexOf(manifestWrites[0]!)).toBeGreaterThan(at(/^link data\/repacked\//));
    expect(writes.at(-1)).toMatch(/^unlink locks\//);

    const failures: string[] = [];
    for (let n = 1; n <= writes.length; n++) {
      const label = `killed before write ${n} (${writes[n - 1]})`;
      const store = trial(n);
      const log = path.join(cwd, `writes-${n}.log`);
      const killed = await cleanupCli(store, log, n);
      expect(killed.signal, `${label}: ${killed.stderr}`).toBe("SIGKILL");
      expect(writesIn(log).length, label).toBe(n);
      forgetCatalogIndex(); // this process read the seed's index: look again, as a new process would
      const engine = makeTestEngine(crm.root, store, { BACKUP_FORMAT: "v2" });
      try {
        // Every manifest there, readable, and the same backup; each verifies with a full read.
        const scan = await scanCatalog(engine.storage);
        expect(scan.damaged, label).toEqual([]);
        expect(scan.backups.map((b) => b.id).sort(), label).toEqual([...expected.keys()].sort());
        for (const [id, want] of expected) {
          expect(content(await readManifest(engine.storage, id)), `${label}: manifest ${id}`).toEqual(want.content);
          const v = await verifyBackup(engine, id, undefined, { quick: false });
          expect(v.ok, `${label}: verify ${id}: ${v.error ?? ""}`).toBe(true);
        }
        // Each restores byte for byte, into a copy of the CRM from a copy of the store (a restore adds its pre-restore backup).
        const restoreStore = tempDir(`kill-repack-restore-${n}-`);
        cpSync(store, restoreStore, { recursive: true });
        const target = tempDir(`kill-repack-crm-${n}-`);
        cpSync(crm.root, target, { recursive: true });
        const restorer = makeTestEngine(target, restoreStore, { BACKUP_FORMAT: "v2" });
        for (const [id, want] of expected) {
          await runRestore(restorer, { backupId: id, components: ALL, confirm: "CONFIRM_RESTORE", actor: "test" });
          expect(crmState(target), `${label}: restore ${id}`).toEqual(want.state);
        }
        rmSync(restoreStore, { recursive: true, force: true });
        rmSync(target, { recursive: true, force: true });

        // The next real cleanup takes over the dead process's lock and ends; the ones after the grace free the space.
        const next = await cleanupCli(store, path.join(cwd, `writes-${n}-next.log`));
        expect(next.code, `${label}: the next cleanup: ${next.stderr}`).toBe(0);
        forgetCatalogIndex();
        await runCleanup(later(engine), { actor: "test" });
        await runCleanup(later(engine), { actor: "test" });
        const used = new Set<string>();
        for (const b of await listBackups(engine.storage)) for (const p of packsOf(await readManifest(engine.storage, b.id))) used.add(p);
        const present = (await engine.storage.list("data/packs/")).map((o) => o.key);
        expect(present.sort(), `${label}: packs after the next cleanups`).toEqual([...used].sort());
        for (const p of outcome.repack.packsRepacked) expect(present, label).not.toContain(p);
        const packBytes = packFiles(store).reduce((total, f) => total + f.size, 0);
        expect(packBytes, `${label}: pack bytes after the next cleanups`).toBeLessThan(seedPackBytes * 0.6);
        expect(readdirSync(path.join(store, "temp")).filter((f) => !f.startsWith(".")), `${label}: temp files`).toEqual([]);
        expect(readdirSync(path.join(store, "locks")), `${label}: locks`).toEqual([]);
        for (const id of expected.keys()) expect((await verifyBackup(engine, id)).ok, `${label}: verify ${id} after the cleanups`).toBe(true);
      } catch (err) {
        failures.push((err as Error).message.split("\n")[0]!);
        recordFault({ suite: "kill-repack", fault: "SIGKILL of `cleanup` (repacking) before each store write", trials: n, held: n - failures.length, lost: failures.length, note: failures.join("; ") });
        throw err;
      } finally {
        rmSync(store, { recursive: true, force: true });
      }
    }
    recordFault({ suite: "kill-repack", fault: "SIGKILL of `cleanup` (repacking) before each store write", trials: writes.length, held: writes.length, lost: 0, note: `writes: ${writes.map((w) => w.split(" ")[1]!.split("/")[0]).join(",")}` });
  });
});
