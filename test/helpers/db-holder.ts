// The CRM stand-in that keeps the database open (test/fixtures/db-holder.ts), started as a child and asked over IPC.
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";

const running: ChildProcess[] = [];

/** Starts a holder of `db`; `ask` sends one command (exec, count, lock, unlock) and resolves with its answer. */
export function holdDatabase(db: string): { child: ChildProcess; ask: (cmd: object) => Promise<any> } {
  const child = fork(path.join(import.meta.dirname, "..", "fixtures", "db-holder.ts"), [db], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  running.push(child);
  const ask = (cmd: object) => new Promise<any>((resolve) => { child.once("message", resolve); child.send(cmd); });
  return { child, ask };
}

/** Kills every holder started so far; for afterEach. */
export function killHolders(): void {
  for (const c of running.splice(0)) c.kill("SIGKILL");
}
