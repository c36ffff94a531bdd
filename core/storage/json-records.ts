// Small JSON records kept one object each under a prefix whose keys sort by time (audit log, jobs): read the newest.
import type { Storage } from "./storage.ts";

/** The newest `limit` `.json` records under `prefix`, newest first; other objects there (e.g. job claims) are skipped. */
export async function readNewestJson<T>(storage: Storage, prefix: string, limit: number): Promise<T[]> {
  const objs = (await storage.list(prefix)).filter((o) => o.key.endsWith(".json")).slice(-limit).reverse();
  return Promise.all(objs.map(async (o) => JSON.parse((await storage.getBuffer(o.key)).toString("utf8")) as T));
}
