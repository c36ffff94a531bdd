// The request body limit: a 413 in our error shape before an oversized body is read into memory, with or without Content-Length.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { humanSize } from "../core/units.ts";
import { errorBody } from "./errors.ts";

/** The largest legitimate body (a create or restore request) is a few hundred bytes; 64 KiB leaves ample room. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * A restore's body with its include list at the schema's limits (1000 paths of 1000 characters, api/schemas.ts) is
 * about 1 MB: up to this much is read (after auth), so a list over those limits gets its own 400 naming the limit.
 */
export const MAX_RESTORE_BODY_BYTES = 1024 * 1024;

const RESTORE_HINT = "a restore request is a few hundred bytes plus its include list, at most 1000 paths of at most 1000 characters; choose a folder to restore everything under it";

/**
 * hono's bodyLimit answers at once when Content-Length is over the limit; for a chunked body it counts while reading
 * and stops at the limit, so at most `maxBytes` is ever held. What the client still sends is drained and dropped by
 * the Node adapter (or, on Lambda, refused by API Gateway past its own 10 MB).
 */
export function requestBodyLimit(maxBytes = MAX_BODY_BYTES, hint = "a create or restore request is a few hundred bytes"): MiddlewareHandler {
  const limit = maxBytes % (1024 * 1024) === 0 ? `${maxBytes / 1024 / 1024} MiB` : maxBytes % 1024 === 0 ? `${maxBytes / 1024} KiB` : humanSize(maxBytes);
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json(
        errorBody("payload_too_large", `read request body: it is larger than the ${limit} limit; send a JSON body of at most ${limit} (${hint})`),
        413,
      ),
  });
}

/** The restore route's own, larger limit, for requests that passed auth: see MAX_RESTORE_BODY_BYTES. */
export const restoreBodyLimit = (maxBytes = MAX_RESTORE_BODY_BYTES): MiddlewareHandler => requestBodyLimit(maxBytes, RESTORE_HINT);

/** Every /api body but a restore's: the restore route's limit is applied after auth (restoreBodyLimit). */
export function apiBodyLimit(): MiddlewareHandler {
  const limit = requestBodyLimit();
  return (c, next) => (c.req.method === "POST" && c.req.path === RESTORE_PATH ? next() : limit(c, next));
}

export const RESTORE_PATH = "/api/backup/restore";
