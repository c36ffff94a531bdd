// Listings of the store's backup folders, kept in this process while the store's listing token says nothing changed.
import type { ObjectInfo, Storage } from "./storage/storage.ts";

/**
 * How long a listing is reused with an unchanged token. The token misses one change: a manifest rewritten in place by
 * hand on an fs store (same file, folder untouched; see Storage.listingToken). This bounds how long a listing can
 * show such a manifest as it was; anything written through the store is noticed on the next request.
 */
export const LISTING_TRUST_MS = 30_000;

const listings = new Map<string, { token: string; at: number; listed: ObjectInfo[] }>();

/**
 * list(prefix), or this process's last listing of it when the store's token for the prefix is unchanged and that
 * listing is younger than LISTING_TRUST_MS. On fs that is a stat and a readdir per folder instead of a stat per
 * object (1,000 manifests: ~1 ms instead of ~20). Stores without tokens (S3) are listed every time, as before.
 * Only for what is shown (API listings, status): cleanup, gc and backups list the store themselves.
 */
export async function cachedList(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  const key = `${storage.description}\u0000${prefix}`;
  // Taken before listing: a change between the two leaves a listing newer than its token, so the next call lists again.
  const token = storage.listingToken ? await storage.listingToken(prefix) : null;
  const now = Date.now();
  const hit = listings.get(key);
  if (token !== null && hit?.token === token && now - hit.at >= 0 && now - hit.at < LISTING_TRUST_MS) return [...hit.listed];
  const listed = await storage.list(prefix);
  if (token === null) listings.delete(key);
  else listings.set(key, { token, at: now, listed });
  return [...listed];
}

/** Forgets every cached listing (tests that change a store behind its back in ways no token sees). */
export function forgetListings(): void {
  listings.clear();
}
