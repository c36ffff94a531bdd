// A small demo CRM (SQLite database, uploads, config, logs) so the CLI works before it is pointed at a real one.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";

/** Creates the demo CRM at `root` unless a database is already there; returns true when it created one. */
export async function ensureDemoCrm(root: string): Promise<boolean> {
  if (existsSync(path.join(root, "prisma", "dev.db"))) return false;
  await mkdir(path.join(root, "prisma"), { recursive: true });
  await mkdir(path.join(root, "uploads", "contracts"), { recursive: true });
  await mkdir(path.join(root, "uploads", "avatars"), { recursive: true });
  await mkdir(path.join(root, "logs"), { recursive: true });

  const db = new Database(path.join(root, "prisma", "dev.db"));
  db.pragma("journal_mode = WAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS "User" (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL, name TEXT, role TEXT NOT NULL DEFAULT 'USER');
    CREATE TABLE IF NOT EXISTS "Customer" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, company TEXT, createdAt TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS "Deal" (id INTEGER PRIMARY KEY, customerId INTEGER NOT NULL REFERENCES "Customer"(id), title TEXT NOT NULL, amount REAL NOT NULL, stage TEXT NOT NULL);
  `);
  const addCustomer = db.prepare(`INSERT INTO "Customer" (name, email, company, createdAt) VALUES (?, ?, ?, ?)`);
  const addDeal = db.prepare(`INSERT INTO "Deal" (customerId, title, amount, stage) VALUES (?, ?, ?, ?)`);
  db.transaction(() => {
    db.prepare(`INSERT INTO "User" (email, name, role) VALUES (?, ?, ?)`).run("admin@colab.example", "Ada Admin", "ADMIN");
    for (let i = 1; i <= 200; i++) {
      const id = addCustomer.run(`Customer ${i}`, `c${i}@example.com`, `Company ${i % 17}`, new Date(Date.UTC(2026, 0, 1 + i)).toISOString()).lastInsertRowid;
      addDeal.run(id, `Deal for customer ${i}`, 1000 + i * 37.5, ["lead", "won", "lost"][i % 3]);
    }
  })();
  db.close();

  for (let i = 1; i <= 12; i++) await writeFile(path.join(root, "uploads", "contracts", `contract-${i}.txt`), `Contract ${i}\n`.repeat(200));
  // Incompressible bytes stand in for photos.
  for (let i = 1; i <= 4; i++) await writeFile(path.join(root, "uploads", "avatars", `avatar-${i}.bin`), Buffer.from(Array.from({ length: 32 * 1024 }, (_, j) => (j * 2654435761 + i * 97) % 251)));
  await writeFile(path.join(root, "logs", "combined-2026-11-25.log"), `${new Date().toISOString()} info server started\n`.repeat(500));
  await writeFile(path.join(root, "logs", "error-2026-11-25.log"), `${new Date().toISOString()} error sample failure\n`.repeat(20));
  await writeFile(path.join(root, "package.json"), JSON.stringify({ name: "colab-crm-demo", version: "1.0.0", private: true }, null, 2) + "\n");
  await writeFile(path.join(root, "package-lock.json"), JSON.stringify({ name: "colab-crm-demo", lockfileVersion: 3, packages: {} }, null, 2) + "\n");
  await writeFile(path.join(root, "prisma", "schema.prisma"), `datasource db {\n  provider = "sqlite"\n  url      = "file:./dev.db"\n}\n`);
  await writeFile(path.join(root, ".env.example"), "JWT_SECRET=change-me\n");
  await writeFile(path.join(root, ".env"), "JWT_SECRET=demo-secret-never-backed-up\n");
  return true;
}
