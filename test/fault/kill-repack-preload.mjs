// Loaded into a CLI child with --import (kill-repack.test.ts): watches the fs store's writes from outside its code, through
// the node:fs/promises calls that make an object visible or remove it (rename and link into the store, unlink from it), and
// SIGKILLs the process right before a chosen one. Temp files (the store's temp/ folder) are not store writes: a put killed
// before its rename leaves its fsynced temp file behind, as a real kill -9 would. Nothing in core/ knows about it.
//   COLAB_TEST_STORE_ROOT=dir                 the store's root (BACKUP_DIR); only writes under it count
//   COLAB_TEST_STORE_WRITE_LOG=file           every counted write is appended as "op key"
//   COLAB_TEST_KILL_BEFORE_STORE_WRITE=n      SIGKILL right before the n-th counted write (1 = the first)
import { appendFileSync } from "node:fs";
import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";

const root = process.env.COLAB_TEST_STORE_ROOT ? path.resolve(process.env.COLAB_TEST_STORE_ROOT) : null;
const log = process.env.COLAB_TEST_STORE_WRITE_LOG;
const killBefore = Number(process.env.COLAB_TEST_KILL_BEFORE_STORE_WRITE ?? 0);
let writes = 0;

/** The store key a path names, or null when it is outside the store or in its temp folder. */
const keyOf = (p) => {
  if (!root) return null;
  const rel = path.relative(root, path.resolve(String(p)));
  if (rel.startsWith("..") || path.isAbsolute(rel) || rel === "" || rel.split(path.sep)[0] === "temp") return null;
  return rel.split(path.sep).join("/");
};

const before = (op, target) => {
  const key = keyOf(target);
  if (key === null) return;
  writes++;
  if (log) appendFileSync(log, `${op} ${key}\n`);
  // kill() to ourselves is delivered before it returns: the write below never starts.
  if (writes === killBefore) process.kill(process.pid, "SIGKILL");
};

const { rename, link, unlink } = fsp;
fsp.rename = async (from, to) => (before("rename", to), rename(from, to));
fsp.link = async (existing, to) => (before("link", to), link(existing, to));
fsp.unlink = async (file) => (before("unlink", file), unlink(file));
syncBuiltinESMExports();
