// Downloads from a store that the process can read itself (fs, memory): the archive's bytes as a stream.
import { NotFoundError } from "../core/errors.ts";
import type { Storage } from "../core/storage/storage.ts";
import type { ApiDeps } from "./deps.ts";

/** ApiDeps.download for the local runtime; on S3 a presigned URL is answered instead, so bytes never pass the API. */
export function streamFromStorage(storage: Storage): ApiDeps["download"] {
  return async (id, key) => {
    const info = await storage.stat(key);
    if (!info) throw new NotFoundError(`download backup: the archive of ${id} is missing from the store`);
    return { stream: await storage.get(key), size: info.size };
  };
}

/** A store that can hand out short-lived download URLs (S3). */
export interface Presigner {
  presignGet(key: string, expiresInSeconds: number, opts?: { filename?: string }): Promise<string>;
}
const canPresign = (storage: Storage): storage is Storage & Presigner => typeof (storage as Partial<Presigner>).presignGet === "function";

/** The store itself if it presigns URLs (S3), else null (the API streams the bytes itself). */
export const presignerOf = (storage: Storage): Presigner | null => (canPresign(storage) ? storage : null);

/** Seconds a presigned download URL stays valid. */
export const DOWNLOAD_URL_SECONDS = 300;

/** ApiDeps.download for any store: a presigned redirect where the store offers one, so bytes never pass the API; else a stream. */
export function downloadFrom(storage: Storage): ApiDeps["download"] {
  if (!canPresign(storage)) return streamFromStorage(storage);
  return async (id, key) => ({ redirect: await storage.presignGet(key, DOWNLOAD_URL_SECONDS, { filename: `${id}.tar.gz` }) });
}
