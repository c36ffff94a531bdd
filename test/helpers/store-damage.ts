// Test fixtures for damaged stores: one good backup beside every kind of damage the catalog scan must name.
import { createBackup } from "../../core/backup.ts";
import type { Engine } from "../../core/engine.ts";
import { archiveKey, manifestKey, pendingKey } from "../../core/ids.ts";

/**
 * A store holding one good backup and one of each kind of damage; the "damaged" ones are newer than the good one.
 * The good backup is a v1 one whatever the default: orphan archives and manifests without their archive exist only
 * in v1 stores, which stay readable beside v2 ones (v2's damage is covered by test/v2-gc.test.ts and v2-store.test.ts).
 */
export async function plantDamage(engine: Engine) {
  const v1 = { ...engine, config: { ...engine.config, backupFormat: "v1" as const }, now: () => new Date("2026-11-20T02:00:00Z") };
  const good = await createBackup(v1, { type: "daily", components: ["config"] });
  if (good.skipped) throw new Error("unexpected skip");
  const ids = {
    good: good.manifest.id,
    notJson: "daily-20261125T020000Z-aaaaaa",
    badSchema: "daily-20261126T020000Z-bbbbbb",
    noArchive: "manual-20261126T030000Z-eeeeee",
    copied: "monthly-20261101T020000Z-abc123",
    orphan: "weekly-20261122T020000Z-cccccc",
    incomplete: "daily-20261127T020000Z-dddddd",
    markerOnly: "manual-20261127T030000Z-ffffff",
  };
  const s = engine.storage;
  await s.put(manifestKey(ids.notJson), "{not json");
  await s.put(archiveKey(ids.notJson), "the archive of a backup whose manifest broke");
  if (good.manifest.formatVersion !== 1) throw new Error("the damage fixture plants v1 archives");
  const { archive: _archive, ...noArchive } = good.manifest;
  await s.put(manifestKey(ids.badSchema), JSON.stringify({ ...good.manifest, id: ids.badSchema, formatVersion: 99, createdAt: 7 }));
  await s.put(manifestKey(ids.noArchive), JSON.stringify({ ...noArchive, id: ids.noArchive, type: "manual" }));
  await s.put(manifestKey(ids.copied), JSON.stringify(good.manifest)); // another backup's manifest under this id
  await s.put(archiveKey(ids.orphan), "an intact archive whose manifest was lost");
  await s.put(archiveKey(ids.incomplete), "half an archive");
  await s.put(pendingKey(ids.incomplete), JSON.stringify({ id: ids.incomplete, startedAt: "2026-11-27T02:00:00.000Z", pid: 999_999, host: "crm-host" }));
  await s.put(pendingKey(ids.markerOnly), "{not json"); // unreadable, yet it still says the run started
  await s.put(pendingKey(ids.good), JSON.stringify({ id: ids.good })); // killed between manifest and marker removal
  return ids;
}
