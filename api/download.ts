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
