// Loaded into a CLI child with --import (kill-restore-steps.test.ts): observes the restore from outside its code, through
// node:fs/promises.rename, and SIGKILLs the process at a chosen journal write. Nothing in core/ knows about it.
//   COLAB_TEST_RENAME_LOG=file          every rename of the journal or of a .db file is appended as "from -> to"
//   COLAB_TEST_KILL_AT_JOURNAL_WRITE=n  SIGKILL right after the n-th journal write landed (1 = the first)
//   COLAB_TEST_KILL_AT_JOURNAL_PHASE=p  ...or right after the first journal write whose phase is p (e.g. committing);
//                                       "swapping:2": the first whose phase is swapping with 2 components begun
//   COLAB_TEST_KILL_AT_RENAME=suffix    ...or right after the first rename whose target ends with suffix (a restored file)
//   COLAB_TEST_KILL_DELAY_MS=ms         ...or that many ms after it, from a worker thread, so it lands inside
//                                       synchronous work such as SQLite's page copy into the live database
import { appendFileSync, readFileSync } from "node:fs";
import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { Worker } from "node:worker_threads";

const JOURNAL = ".colab-restore-journal.json";
const log = process.env.COLAB_TEST_RENAME_LOG;
const killAt = Number(process.env.COLAB_TEST_KILL_AT_JOURNAL_WRITE ?? 0);
const killPhase = process.env.COLAB_TEST_KILL_AT_JOURNAL_PHASE;
const killRename = process.env.COLAB_TEST_KILL_AT_RENAME;
const delayMs = Number(process.env.COLAB_TEST_KILL_DELAY_MS ?? 0);
let writes = 0;
// Started now, so that its start-up time is not added to the delay; it waits for the word.
const killer = (killAt || killPhase) && delayMs > 0
  ? new Worker(`require("node:worker_threads").parentPort.once("message", () => setTimeout(() => process.kill(${process.pid}, "SIGKILL"), ${delayMs}))`, { eval: true })
  : null;
killer?.unref();

const atPhase = (journal) => {
  const [phase, begun] = killPhase.split(":");
  return journal.phase === phase && (begun === undefined || journal.begun.length === Number(begun));
};

const rename = fsp.rename;
fsp.rename = async function (from, to) {
  await rename(from, to);
  const isJournal = String(to).endsWith(JOURNAL);
  if (log && (isJournal || /\.db$/.test(String(to)))) appendFileSync(log, `${Date.now()} ${from} -> ${to}\n`);
  if (killRename && String(to).endsWith(killRename)) process.kill(process.pid, "SIGKILL");
  if (!isJournal) return;
  writes++;
  if (killPhase ? !atPhase(JSON.parse(readFileSync(to, "utf8"))) : writes !== killAt) return;
  // A timer on this thread would wait for the synchronous copy to end; the worker's fires during it.
  if (killer) killer.postMessage("kill");
  else process.kill(process.pid, "SIGKILL");
};
syncBuiltinESMExports();
