// A CRM database grown with a "Note" table and changed a few rows a day: the database piece and page-patch tests' data.
import Database from "better-sqlite3";
import type { CrmFixture } from "./crm.ts";

/** A database of ~1 MB (4 KiB pages): notes whose rows spread over many database pieces. */
export function growNotes(crm: CrmFixture): void {
  const db = new Database(crm.db);
  db.exec(`CREATE TABLE "Note" (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
  const ins = db.prepare(`INSERT INTO "Note" (body) VALUES (?)`);
  db.transaction(() => {
    for (let i = 1; i <= 3000; i++) ins.run(`note ${i} `.repeat(30));
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}

/** A day's change: a few rows far apart rewritten (each lands on its own page), or a run of them (a whole piece). */
export function changeNotes(crm: CrmFixture, day: number, ids: number[]): void {
  const db = new Database(crm.db);
  const up = db.prepare(`UPDATE "Note" SET body = ? WHERE id = ?`);
  db.transaction(() => {
    for (const id of ids) up.run(`day ${day} row ${id} `.repeat(25), id);
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}
