// Logs in v2: a log whose identity changed but whose bytes did not (a cp -a copy, a weekly re-read) is hashed, not gzipped again.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { runBackup } from "../core/backup.ts";
import type { Engine } from "../core/engine.ts";
import type { FileEntryV2, StoredManifestV2 } from "../core/manifest.ts";
import { MANIFEST_GZIP_LEVEL } from "../core/manifest-codec.ts";
import { runRestore } from "../core/restore.ts";
import { makeCrm, makeTestEngine, tempDir } from "./helpers/crm.ts";

// Counts the gzip streams the writer opens for logs: a log gzipped again opens one. The manifest's own stream (at
// MANIFEST_GZIP_LEVEL, one per backup) is not counted.
const gzips = vi.hoisted(() => ({ levels: [] as (number | undefined)[], get count() { return this.levels.filter((l) => l !== MANIFEST_GZIP_LEVEL).length; }, set count(_: number) { this.levels = []; } }));
vi.mock("node:zlib", async (importOriginal) => {
  const zlib = await importOriginal<typeof import("node:zlib")>();
  return { ...zlib, createGzip: (...args: Parameters<typeof zlib.createGzip>) => (gzips.levels.push(args[0]?.level), zlib.createGzip(...args)) };
});

const V2 = { BACKUP_FORMAT: "v2" };
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function backup(engine: Engine, type: "manual" | "weekly" = "manual"): Promise<StoredManifestV2> {
  const out = await runBackup(engine, { type });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return out.manifest;
}
const logs = (m: StoredManifestV2): Record<string, FileEntryV2> => Object.fromEntries(m.components.logs!.files.map((f) => [f.path, f]));

describe("v2 logs whose bytes did not change", () => {
  beforeEach(() => void (gzips.count = 0));

  it("records each log's plaintext hash, and reuses the record for a copy of the CRM without gzipping", async () => {
    const crm = makeCrm();
    const store = tempDir("store-");
    const first = logs(await backup(makeTestEngine(crm.root, store, V2)));
    expect(gzips.count).toBe(2);
    const combined = first["logs/combined-2026-11-25.log.gz"]!;
    expect(combined.originalSha256).toBe(sha(readFileSync(path.join(crm.root, "logs/combined-2026-11-25.log"))));

    // A copy: every inode new, as in the CRM a restore's pre-restore backup reads after a cp -a.
    const copyRoot = path.join(tempDir("copy-"), "crm");
    execFileSync("cp", ["-a", crm.root, copyRoot]);
    gzips.count = 0;
    const copied = logs(await backup(makeTestEngine(copyRoot, store, V2)));
    expect(gzips.count).toBe(0);
    for (const [p, f] of Object.entries(copied)) {
      const { source, ...rest } = f;
      const { source: before, ...was } = first[p]!;
      expect(rest).toEqual(was);
      expect(source?.ino).not.toBe(before?.ino);
      expect(source?.ino).toBe(String(statSync(path.join(copyRoot, p.slice(0, -".gz".length))).ino));
    }

    // Same size, other bytes: gzipped again, and the new record restores the new bytes.
    const log = path.join(copyRoot, "logs/combined-2026-11-25.log");
    const changed = Buffer.from(readFileSync(log, "utf8").replace("line", "LINE"));
    writeFileSync(log, changed);
    const engine = makeTestEngine(copyRoot, store, V2);
    const third = await backup(engine, "weekly");
    expect(gzips.count).toBe(1); // a weekly backup re-reads everything: only the changed log is gzipped
    const entry = logs(third)["logs/combined-2026-11-25.log.gz"]!;
    expect(entry.originalSha256).toBe(sha(changed));
    expect(entry.sha256).not.toBe(combined.sha256);
    writeFileSync(log, "gone\n");
    await runRestore(engine, { backupId: third.id, components: ["logs"], confirm: "CONFIRM_RESTORE" });
    expect(readFileSync(log).equals(changed)).toBe(true);
  });
});
