// Writing a key that is written once (a manifest): a create-if-absent that a retry after a lost response does not turn into a failure.
import { ObjectExistsError } from "../errors.ts";
import type { ObjectInfo, Storage } from "./storage.ts";

/**
 * put(key, body, { ifAbsent: true }), except that finding exactly `body` already there counts as success: the SDK
 * retries a put whose response was lost, and the retry of a put that did land meets its own object (412). Different
 * bytes there still throw ObjectExistsError: nothing is ever replaced.
 */
export async function putOnce(storage: Storage, key: string, body: string | Buffer): Promise<ObjectInfo | null> {
  try {
    return await storage.put(key, body, { ifAbsent: true });
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
    const there = await storage.getBuffer(key).catch(() => null);
    if (there?.equals(typeof body === "string" ? Buffer.from(body) : body)) return null;
    throw err;
  }
}
