// Test fixtures: a realistic CRM folder on disk, engines over it, and ways to compare trees and databases.
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { loadConfig } from "../../core/config.ts";
import { makeEngine, type Engine } from "../../core/engine.ts";
import { FsStorage } from "../../core/storage/fs-storage.ts";

export function tempDir(prefix = "colab-test-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface CrmFixture {
  root: string;
  db: string;
}

/** A CRM folder: a SQLite database in the given journal mode, nested uploads, config files (with secrets), nested logs. */
export function makeCrm(root = tempDir("crm-"), journalMode: "wal" | "delete" = "wal"): CrmFixture {
  mkdirSync(path.join(root, "prisma"), { recursive: true });
  const dbPath = path.join(root, "prisma", "dev.db");
  const db = new Database(dbPath);
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec(`CREATE TABLE "Customer" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);
           CREATE TABLE "Deal" (id INTEGER PRIMARY KEY, customerId INTEGER NOT NULL, amount REAL NOT NULL);`);
  const ins = db.prepare(`INSERT INTO "Customer" (name, note) VALUES (?, ?)`);
  const deal = db.prepare(`INSERT INTO "Deal" (customerId, amount) VALUES (?, ?)`);
  db.transaction(() => {
    for (let i = 1; i <= 500; i++) deal.run(ins.run(`customer ${i}`, "x".repeat(i % 50)).lastInsertRowid, i * 10);
  })();
  db.close();
  const files: Record<string, string | Buffer> = {
    "uploads/a.txt": "alpha\n",
    "uploads/deep/nested/b.txt": "bravo\n".repeat(1000),
    "uploads/media/photo.bin": Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919 + 13) % 256)),
    "uploads/empty.txt": "",
    "uploads/with space & ünïcode.txt": "unicode name\n",
    "package.json": '{"name":"crm","version":"1.0.0"}\n',
    "package-lock.json": '{"lockfileVersion":3}\n',
    "prisma/schema.prisma": 'datasource db { provider = "sqlite" }\n',
    ".env.example": "JWT_SECRET=\n",
    ".env": "JWT_SECRET=top-secret\n",
    ".env.production": "JWT_SECRET=prod-secret\n",
    "logs/combined-2026-11-25.log": "line\n".repeat(5000),
    "logs/archive/error-2026-10-01.log": "old error\n",
    "logs/not-a-log.txt": "ignored\n",
  };
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), body);
  }
  chmodSync(path.join(root, "uploads/a.txt"), 0o600);
  chmodSync(path.join(root, "uploads/deep/nested/b.txt"), 0o640);
  return { root, db: dbPath };
}

export function makeTestEngine(crmRoot: string, backupDir = tempDir("store-"), env: NodeJS.ProcessEnv = {}): Engine {
  const config = loadConfig({ CRM_ROOT: crmRoot, BACKUP_DIR: backupDir, ...env });
  const workRoot = path.join(backupDir, "temp");
  mkdirSync(workRoot, { recursive: true });
  return makeEngine({ config, storage: new FsStorage(backupDir, { tempDir: workRoot }), workRoot });
}

/** Relative path -> { sha256, mode } for every regular file under dir. */
export function treeDigest(dir: string): Record<string, { sha256: string; mode: number }> {
  const out: Record<string, { sha256: string; mode: number }> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else if (e.isFile()) out[r] = { sha256: createHash("sha256").update(readFileSync(p)).digest("hex"), mode: statSync(p).mode & 0o777 };
    }
  };
  walk(dir, "");
  return out;
}

/** Every table's rows, for comparing database content regardless of page layout. */
export function dbContent(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[];
    return Object.fromEntries(tables.map((t) => [t.name, db.prepare(`SELECT * FROM "${t.name.replace(/"/g, '""')}" ORDER BY rowid`).all()]));
  } finally {
    db.close();
  }
}
