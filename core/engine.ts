// What every operation needs: configuration, the store, a local work folder, and a logger; built by a composition root.
import { hostname } from "node:os";
import type { Config } from "./config.ts";
import type { Storage } from "./storage/storage.ts";

export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export interface Progress {
  phase: "snapshot" | "hash" | "archive" | "verify" | "extract" | "swap" | "pre-restore";
  done: number;
  total: number;
  /** In the pre-restore phase: the phase of the backup taken first, whose progress is passed on. */
  step?: Progress["phase"];
}

export interface Engine {
  config: Config;
  storage: Storage;
  /** A local folder for snapshots and staging work files (BACKUP_DIR/temp locally, /tmp on Lambda). */
  workRoot: string;
  host: string;
  log: Logger;
  now: () => Date;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export function jsonLogger(stream: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: string) => (msg: string, data?: Record<string, unknown>) =>
    stream.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...data }) + "\n");
  return { info: write("info"), warn: write("warn"), error: write("error") };
}

export function makeEngine(parts: Pick<Engine, "config" | "storage" | "workRoot"> & Partial<Engine>): Engine {
  return { host: hostname(), log: silentLogger, now: () => new Date(), ...parts };
}
