// Test child for the live-writes fault: transfers between accounts at a steady rate, keeping two invariants a snapshot must show.
// Invariants: the balances never change their sum, and meta.transfers equals the number of rows in transfer.
import Database from "better-sqlite3";

const [dbPath, rateArg, accountsArg] = process.argv.slice(2);
if (!dbPath || !process.send) throw new Error("usage: fork bank-writer.ts <db> [tx per second] with an IPC channel");
const send = process.send.bind(process);
const perSecond = Number(rateArg ?? 100);
const ACCOUNTS = Number(accountsArg ?? 20);

// The CRM's own settings: a busy timeout, and SQLite's default durability in WAL mode. In rollback-journal mode a commit
// with fsync takes ~20 ms on this machine's disk, so 100 tx/s cannot be reached and the writer would hold its lock nearly
// all the time, starving every reader (not a backup fault); without fsync the locking is the same, only durability differs.
const db = new Database(dbPath, { fileMustExist: true, timeout: 5_000 });
if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("synchronous = OFF");
const move = db.prepare("UPDATE account SET balance = balance + ? WHERE id = ?");
const log = db.prepare("INSERT INTO transfer (src, dst, amount) VALUES (?, ?, ?)");
const count = db.prepare("UPDATE meta SET v = v + 1 WHERE k = 'transfers'");
const transfer = db.transaction((src: number, dst: number, amount: number) => {
  move.run(-amount, src);
  log.run(src, dst, amount);
  move.run(amount, dst);
  count.run();
});

let commits = 0;
const errors: string[] = [];
let stopping = false;
process.on("message", (msg) => {
  if (msg === "stop") stopping = true;
});

// Paced by wall time, not by a fixed interval, so a commit that waited on a lock is followed by catch-up commits.
const started = Date.now();
function tick(): void {
  const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
  while (commits + errors.length < due && !stopping) {
    const src = 1 + Math.floor(Math.random() * ACCOUNTS);
    const dst = 1 + ((src + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS);
    try {
      transfer.immediate(src, dst, 1 + Math.floor(Math.random() * 50));
      commits++;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (stopping) {
    db.close();
    send({ type: "stopped", commits, errors, seconds: (Date.now() - started) / 1000 }, () => process.exit(0));
    return;
  }
  setTimeout(tick, 5);
}
send({ type: "ready" });
tick();
