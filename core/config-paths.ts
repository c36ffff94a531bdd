// Start-up checks of the folders the configuration names: each problem is a ConfigError naming the variable.
import { constants } from "node:fs";
import { access, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "./errors.ts";

type Need = "read" | "write";

/**
 * Checks that `dir` (the value of `variable`) is an existing folder with the access `need` asks for. With
 * `create`, a missing folder whose parent exists is created instead (the default store, ./backups, on a first run).
 */
export async function checkFolder(variable: string, dir: string, need: Need, opts: { create?: boolean } = {}): Promise<void> {
  const fail = (what: string, fix: string) => {
    throw new ConfigError(`load configuration: ${variable}=${dir} ${what}; ${fix}`);
  };
  let st = await stat(dir).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? null : Promise.reject(err)));
  if (!st && opts.create) {
    await mkdir(dir, { recursive: false }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") fail("does not exist, nor does its parent folder", `create ${path.dirname(dir)} first or point ${variable} elsewhere`);
      if (err.code === "EACCES" || err.code === "EROFS") fail(`does not exist and cannot be created (${err.code})`, `create it, or point ${variable} to a writable folder`);
      if (err.code !== "EEXIST") throw err;
    });
    st = await stat(dir);
  }
  if (!st) return fail("does not exist", `create it or point ${variable} to the right folder`);
  if (!st.isDirectory()) return fail("is not a folder", `point ${variable} to a folder`);
  const mode = need === "write" ? constants.R_OK | constants.W_OK | constants.X_OK : constants.R_OK | constants.X_OK;
  await access(dir, mode).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EROFS") fail("is on a read-only filesystem", `mount it read-write or point ${variable} to a writable folder`);
    fail(need === "write" ? "is not writable by this user" : "is not readable by this user", `fix its permissions or run colab-backup as the folder's owner`);
  });
}
