// Both RESTORE.txt guides, run literally: every "$ " line through bash with tar, gzip, sha256sum, python3 and sqlite3.
import { execFileSync } from "node:child_process";
import { cpSync, createWriteStream, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { exportStream } from "../core/v2/export.ts";
import { isGzipped } from "../core/manifest-codec.ts";
import { dbContent, makeCrm, makeTestEngine, tempDir, treeDigest } from "./helpers/crm.ts";

/** The guide's commands: each "$ " line, plus the deeper-indented lines after it (a multi-line command), as written. */
function guideCommands(guide: string): string[] {
  const out: string[] = [];
  let column = -1;
  for (const line of guide.split("\n")) {
    const hit = /^( *)\$ (.*)$/.exec(line);
    if (hit) {
      out.push(hit[2]!);
      column = hit[1]!.length;
    } else if (column >= 0 && line.trim() && line.length - line.trimStart().length > column) {
      out[out.length - 1] += "\n" + line;
    } else column = -1;
  }
  return out;
}

/** Runs the commands as one bash script that stops at the first failure; returns what they printed. */
function runGuide(commands: string[], cwd: string, fill: Record<string, string>): string {
  let script = commands.join("\n");
  for (const [from, to] of Object.entries(fill)) script = script.split(from).join(to);
  return execFileSync("bash", ["-c", `set -euo pipefail\n${script}`], { cwd, encoding: "utf8" });
}

/** A copy of the CRM after things went wrong: rows deleted, an upload lost and one added, a log and a config file lost. */
function damagedCopy(root: string): string {
  const target = tempDir("guide-target-");
  cpSync(root, target, { recursive: true });
  const db = new Database(path.join(target, "prisma/dev.db"));
  db.exec(`DELETE FROM "Deal" WHERE id > 10; UPDATE "Customer" SET name = 'wrong'`);
  db.close();
  rmSync(path.join(target, "uploads/deep/nested/b.txt"));
  writeFileSync(path.join(target, "uploads/stray.txt"), "not in the backup\n");
  rmSync(path.join(target, "logs/archive/error-2026-10-01.log"));
  rmSync(path.join(target, "prisma/schema.prisma"));
  return target;
}

/** Every file's SHA-256, leaving out the database (compared by content) and the set-aside uploads. */
function shas(dir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(treeDigest(dir))
    .filter(([rel]) => !rel.startsWith("prisma/dev.db") && !rel.startsWith("uploads.old/"))
    .map(([rel, d]) => [rel, d.sha256]));
}

function expectRestored(target: string, crm: { root: string; db: string }): void {
  expect(shas(target)).toEqual(shas(crm.root));
  expect(readFileSync(path.join(target, "logs/archive/error-2026-10-01.log"), "utf8")).toBe("old error\n"); // a sub-folder log, uncompressed
  expect(existsSync(path.join(target, "uploads.old/stray.txt"))).toBe(true);
  expect(dbContent(path.join(target, "prisma/dev.db"))).toEqual(dbContent(crm.db));
  expect(execFileSync("sqlite3", [path.join(target, "prisma/dev.db"), "PRAGMA integrity_check;"], { encoding: "utf8" }).trim()).toBe("ok");
}

describe("RESTORE.txt run as written", () => {
  it.each(["v1", "v2"])("the archive's guide restores a %s backup's export into a damaged CRM", async (format) => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: format });
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("expected a backup");
    const m = out.manifest;
    expect(m.formatVersion).toBe(format === "v1" ? 1 : 2);
    const work = tempDir("guide-work-");
    const archive = path.join(work, `${m.id}.tar.gz`);
    await pipeline(await exportStream(engine.storage, m), createWriteStream(archive));
    const guide = execFileSync("tar", ["-xzOf", archive, "RESTORE.txt"], { encoding: "utf8" });
    const commands = guideCommands(guide);
    expect(commands.length).toBeGreaterThanOrEqual(10); // every step's commands were found, not just a few

    const target = damagedCopy(crm.root);
    const printed = runGuide(commands, work, { "/path/to/crm": target });
    const files = Object.values(m.components).reduce((n, c) => n + c.files.length, 0);
    expect(printed.split("\n").filter((l) => l.endsWith(": OK"))).toHaveLength(files); // sha256sum -c checked every file
    expect(printed).toMatch(/^ok$/m); // integrity_check of the unpacked database
    expect(execFileSync("find", [path.join(work, "restore/logs"), "-name", "*.gz"], { encoding: "utf8" })).toBe("");
    expectRestored(target, crm);
  });

  it("the v2 store's guide rebuilds every file from the packs and restores a damaged CRM", async () => {
    const crm = makeCrm();
    // Notes over many database pieces, one of them changed between the backups: the second stores it as a page patch.
    const db = new Database(crm.db);
    db.exec(`CREATE TABLE "Note" (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
    const note = db.prepare(`INSERT INTO "Note" (body) VALUES (?)`);
    db.transaction(() => { for (let i = 1; i <= 1000; i++) note.run(`note ${i} `.repeat(30)); })();
    db.close();
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2" });
    await runBackup(engine, { type: "daily" }); // a second backup shares the first one's pieces: the guide must follow offsets
    writeFileSync(path.join(crm.root, "uploads/a.txt"), "alpha, changed\n");
    const changed = new Database(crm.db);
    changed.prepare(`UPDATE "Note" SET body = 'changed' WHERE id = 500`).run();
    changed.pragma("wal_checkpoint(TRUNCATE)");
    changed.close();
    await runBackup(engine, { type: "daily" });
    // The next day a row beside it changes: that page's new patch is a link on the previous one (a chain), which the
    // guide's script must lay over the piece in order.
    const again = new Database(crm.db);
    again.prepare(`UPDATE "Note" SET body = 'changed again' WHERE id = 501`).run();
    again.pragma("wal_checkpoint(TRUNCATE)");
    again.close();
    const out = await runBackup(engine, { type: "daily" });
    if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    const pieces = out.manifest.components.database!.files[0]!.blobs;
    expect(pieces.some((b) => (b.patches?.length ?? 0) > new Set(b.patches?.map((p) => p.at)).size)).toBe(true);
    const store = engine.config.backupDir;
    expect(isGzipped(readFileSync(path.join(store, "daily", `${out.manifest.id}.json`)))).toBe(true); // the guide unpacks it
    const commands = guideCommands(readFileSync(path.join(store, "RESTORE.txt"), "utf8"));
    expect(commands.length).toBeGreaterThanOrEqual(8);

    const work = tempDir("guide-store-work-");
    const target = damagedCopy(crm.root);
    const printed = runGuide(commands, work, { "/path/to/store": store, "/path/to/crm": target, "daily/<id>": `daily/${out.manifest.id}` });
    const files = Object.values(out.manifest.components).reduce((n, c) => n + c.files.length, 0);
    expect(printed.split("\n").filter((l) => l.endsWith(": OK"))).toHaveLength(files);
    expect(printed).toMatch(/^ok$/m);
    expectRestored(target, crm);

    // The manifest was in the compact form (pack table); the same first step reads the older forms into the same script.
    const file = path.join(store, "daily", `${out.manifest.id}.json`);
    expect(execFileSync("gzip", ["-dc", file], { encoding: "utf8" })).toMatch(/\n {2}"packs": \[\n/);
    const script = readFileSync(path.join(work, "restore.sh"), "utf8");
    const full = JSON.stringify(out.manifest, null, 2) + "\n";
    for (const [form, bytes] of [["plain JSON", full], ["gzipped full JSON", gzipSync(full)]] as const) {
      writeFileSync(file, bytes);
      const older = tempDir("guide-older-");
      runGuide(commands.slice(0, 1), older, { "/path/to/store": store, "daily/<id>": `daily/${out.manifest.id}` });
      expect(readFileSync(path.join(older, "restore.sh"), "utf8"), form).toBe(script);
    }
  });
});
