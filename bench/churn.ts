// One day of deterministic change in a benchmark CRM: 1% of the upload files rewritten, 1% of each table's rows changed.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { writeChunked } from "./generate.ts";
import { Rng, TextGen } from "./prng.ts";

export interface Churned {
  day: number;
  uploadsChanged: number;
  uploadBytesChanged: number;
  rowsUpdated: number;
  rowsInserted: number;
}

const FRACTION = 0.01;
const INCOMPRESSIBLE = /\.(jpg|pdf)$/;

/**
 * Day `day` of change (1, 2, ...; the same day gives the same change on the same data):
 * - uploads: 1% of the files (at least one), picked by a PRNG seeded with the day, get new content of the same size:
 *   random bytes for photos and PDFs, new text for documents, so they compress as the originals do;
 * - database: 1% of the rows of Customer, Deal and Activity change as a CRM changes them: half are updates of a run
 *   of recent rows (a uniform scatter over the table would touch nearly every page, which no CRM day does), half are
 *   new rows appended. The WAL is checkpointed afterwards, so the file tools (tar, restic) see the change too.
 */
export function churnCrm(dir: string, day: number, seed = 20261126): Churned {
  const rng = new Rng(seed * 31 + day);
  const text = new TextGen(rng);
  const out: Churned = { day, uploadsChanged: 0, uploadBytesChanged: 0, rowsUpdated: 0, rowsInserted: 0 };

  const uploads = listFiles(path.join(dir, "uploads"));
  const picks = new Set<number>();
  const want = Math.max(1, Math.round(uploads.length * FRACTION));
  while (picks.size < Math.min(want, uploads.length)) picks.add(rng.int(0, uploads.length - 1));
  for (const i of [...picks].sort((a, b) => a - b)) {
    const file = uploads[i]!;
    const size = statSync(file).size;
    if (size === 0) continue;
    writeChunked(file, size, (max) => (INCOMPRESSIBLE.test(file) ? rng.fill(Buffer.allocUnsafe(max)) : textOf(text, max)));
    out.uploadsChanged++;
    out.uploadBytesChanged += size;
  }

  const db = new Database(path.join(dir, "prisma", "dev.db"));
  try {
    const now = new Date(Date.UTC(2026, 10, 1) + day * 86_400_000).toISOString();
    db.transaction(() => {
      const tables = [
        { name: "Customer", update: `UPDATE "Customer" SET notes = ?, updatedAt = ? WHERE id = ?`, args: (id: number) => [text.text(rng.logUniform(40, 1200)), now, id],
          insert: `INSERT INTO "Customer" (name, email, company, phone, city, address, notes, ownerId, createdAt, updatedAt) SELECT ?, email, company, phone, city, address, ?, ownerId, ?, ? FROM "Customer" WHERE id = ?`,
          row: (src: number) => [text.name(), text.text(rng.logUniform(40, 1200)), now, now, src] },
        { name: "Deal", update: `UPDATE "Deal" SET stage = ?, description = ? WHERE id = ?`, args: (id: number) => [rng.pick(["proposal", "negotiation", "won", "lost"]), text.text(rng.logUniform(60, 1500)), id],
          insert: `INSERT INTO "Deal" (customerId, title, amount, currency, stage, description, closeDate, createdAt) SELECT customerId, ?, amount, currency, 'lead', ?, closeDate, ? FROM "Deal" WHERE id = ?`,
          row: (src: number) => [text.sentence(3, 7), text.text(rng.logUniform(60, 1500)), now, src] },
        { name: "Activity", update: `UPDATE "Activity" SET subject = ?, body = ? WHERE id = ?`, args: (id: number) => [text.sentence(3, 9), text.text(rng.logUniform(80, 2400)), id],
          insert: `INSERT INTO "Activity" (customerId, dealId, userId, kind, subject, body, createdAt) SELECT customerId, dealId, userId, kind, ?, ?, ? FROM "Activity" WHERE id = ?`,
          row: (src: number) => [text.sentence(3, 9), text.text(rng.logUniform(80, 2400)), now, src] },
      ];
      for (const t of tables) {
        const { n, max } = db.prepare(`SELECT count(*) AS n, max(id) AS max FROM "${t.name}"`).get() as { n: number; max: number };
        const changes = Math.max(2, Math.round(n * FRACTION));
        const updates = Math.floor(changes / 2);
        // A run of recent rows: the newest 10% of ids is where a CRM's edits land.
        const start = Math.max(1, max - rng.int(updates, Math.max(updates, Math.round(max * 0.1))));
        const update = db.prepare(t.update);
        for (let id = start; id < start + updates; id++) out.rowsUpdated += update.run(...t.args(id)).changes;
        const insert = db.prepare(t.insert);
        for (let k = 0; k < changes - updates; k++) out.rowsInserted += insert.run(...t.row(rng.int(1, max))).changes;
      }
    })();
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  return out;
}

function textOf(text: TextGen, max: number): string {
  const parts: string[] = [];
  let len = 0;
  while (len < max) {
    const p = `${text.paragraph()}\n\n`;
    parts.push(p);
    len += p.length;
  }
  return parts.join("");
}

/** Regular files under `root`, sorted, so a pick by index names the same file on every machine. */
function listFiles(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath ?? e.path, e.name));
  }
  return out.sort();
}
