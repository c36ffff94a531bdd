// The early rollback copy of the live database: kept only when the live database provably did not change since it was taken.
import { existsSync, mkdtempSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { startRollbackCopy } from "../core/restore-rollback-copy.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A live database with `rows` rows, its mtime set a minute back so that its identity counts as settled. */
function liveDb(rows: number, settled = true): { dir: string; live: string; dest: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "colab-rollback-copy-"));
  dirs.push(dir);
  const live = path.join(dir, "dev.db");
  const db = new Database(live);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
  for (let i = 0; i < rows; i++) ins.run(`row ${i}`);
  db.close();
  if (settled) utimesSync(live, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  return { dir, live, dest: path.join(dir, "rollback.db") };
}

const count = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT count(*) FROM t").pluck().get();
  } finally {
    db.close();
  }
};

describe("startRollbackCopy", () => {
  it("keeps the copy when the live database is unchanged since it was taken", async () => {
    const { live, dest } = liveDb(50);
    expect(await startRollbackCopy(live, dest, 5_000).use()).toBe(true);
    expect(count(dest)).toBe(50);
  });

  it("drops the copy when the live database was written after it started", async () => {
    const { live, dest } = liveDb(50);
    const copy = startRollbackCopy(live, dest, 5_000);
    // Whether this write lands before or after the copy, the live identity differs from the one taken first (or the
    // database is too freshly written to have one), so the copy must not be used.
    const db = new Database(live);
    db.prepare("INSERT INTO t (v) VALUES ('late')").run();
    db.close();
    expect(await copy.use()).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });

  it("makes no early copy of a database written moments ago (its identity cannot be trusted)", async () => {
    const { live, dest } = liveDb(5, false);
    expect(await startRollbackCopy(live, dest, 5_000).use()).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });

  it("discard waits for the copy and removes it", async () => {
    const { live, dest } = liveDb(5);
    await startRollbackCopy(live, dest, 5_000).discard();
    expect(existsSync(dest)).toBe(false);
  });
});
