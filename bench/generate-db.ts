// The benchmark CRM's SQLite database: users, customers, deals and activities with text columns, in WAL mode, built in big transactions.
import type BetterSqlite3 from "better-sqlite3";
import { Rng, TextGen } from "./prng.ts";

const SCHEMA = `
  CREATE TABLE "User" (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'USER', createdAt TEXT NOT NULL);
  CREATE TABLE "Customer" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, company TEXT, phone TEXT, city TEXT, address TEXT,
    notes TEXT, ownerId INTEGER REFERENCES "User"(id), createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL);
  CREATE TABLE "Deal" (id INTEGER PRIMARY KEY, customerId INTEGER NOT NULL REFERENCES "Customer"(id), title TEXT NOT NULL, amount REAL NOT NULL,
    currency TEXT NOT NULL, stage TEXT NOT NULL, description TEXT, closeDate TEXT, createdAt TEXT NOT NULL);
  CREATE TABLE "Activity" (id INTEGER PRIMARY KEY, customerId INTEGER NOT NULL REFERENCES "Customer"(id), dealId INTEGER REFERENCES "Deal"(id),
    userId INTEGER REFERENCES "User"(id), kind TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, createdAt TEXT NOT NULL);
  CREATE INDEX "Deal_customerId_idx" ON "Deal"(customerId);
  CREATE INDEX "Activity_customerId_idx" ON "Activity"(customerId);
  CREATE INDEX "Activity_dealId_idx" ON "Activity"(dealId);
  CREATE INDEX "Activity_createdAt_idx" ON "Activity"(createdAt);
`;

/** Average bytes on disk per row (row plus index entries), measured at scale 1; used to hit the size budget. */
const BYTES_PER = { customer: 840, deal: 620, activity: 890 };
const BATCH = 20_000;

/** Fills `db` with about `budget` bytes of CRM data; the mix is fixed (1 customer : 3 deals : 7 activities). */
export function buildDatabase(db: BetterSqlite3.Database, rng: Rng, budget: number): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -65536");
  db.exec(SCHEMA);
  const text = new TextGen(rng);
  const unit = BYTES_PER.customer + 3 * BYTES_PER.deal + 7 * BYTES_PER.activity;
  const customers = Math.max(10, Math.round(budget / unit));
  const deals = customers * 3;
  const activities = customers * 7;

  const users = db.prepare(`INSERT INTO "User" (email, name, role, createdAt) VALUES (?, ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 1; i <= 60; i++) {
      const name = text.name();
      users.run(text.email(name, i), name, i === 1 ? "ADMIN" : rng.pick(["USER", "USER", "MANAGER"]), text.isoTime());
    }
  })();

  const addCustomer = db.prepare(`INSERT INTO "Customer" (name, email, company, phone, city, address, notes, ownerId, createdAt, updatedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  batched(db, customers, (i) => {
    const name = text.name();
    const created = text.isoTime();
    addCustomer.run(name, text.email(name, i), text.company(), text.phone(), rng.pick(text.cities), `${rng.int(1, 200)} ${text.word()} street`,
      text.text(rng.logUniform(40, 1200)), rng.int(1, 60), created, created);
  });

  const addDeal = db.prepare(`INSERT INTO "Deal" (customerId, title, amount, currency, stage, description, closeDate, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  batched(db, deals, () => {
    addDeal.run(rng.int(1, customers), text.sentence(3, 7), Number(text.amount()), rng.pick(["EUR", "DKK", "USD"]),
      rng.pick(["lead", "qualified", "proposal", "negotiation", "won", "lost"]), text.text(rng.logUniform(60, 1500)), text.isoTime().slice(0, 10), text.isoTime());
  });

  const addActivity = db.prepare(`INSERT INTO "Activity" (customerId, dealId, userId, kind, subject, body, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  batched(db, activities, () => {
    addActivity.run(rng.int(1, customers), rng.float() < 0.7 ? rng.int(1, deals) : null, rng.int(1, 60), rng.pick(["call", "email", "meeting", "note", "task"]),
      text.sentence(3, 9), text.text(rng.logUniform(80, 2400)), text.isoTime());
  });
  db.pragma("wal_checkpoint(TRUNCATE)");
}

/** Runs `row(i)` for i = 1..count in transactions of BATCH rows, so the WAL stays small between checkpoints. */
function batched(db: BetterSqlite3.Database, count: number, row: (i: number) => void) {
  for (let start = 1; start <= count; start += BATCH) {
    const end = Math.min(count, start + BATCH - 1);
    db.transaction(() => {
      for (let i = start; i <= end; i++) row(i);
    })();
  }
}
