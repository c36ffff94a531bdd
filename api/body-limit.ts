// The request body limit: a 413 in our error shape before an oversized body is read into memory, with or without Content-Length.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { humanSize } from "../core/units.ts";
import { errorBody } from "./errors.ts";

/** The largest legitimate body (a create or restore request) is a few hundred bytes; 64 KiB leaves ample room. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * hono's bodyLimit answers at once when Content-Length is over the limit; for a chunked body it counts while reading
 * and stops at the limit, so at most `maxBytes` is ever held. What the client still sends is drained and dropped by
 * the Node adapter (or, on Lambda, refused by API Gateway past its own 10 MB).
 */
export function requestBodyLimit(maxBytes = MAX_BODY_BYTES): MiddlewareHandler {
  const limit = maxBytes % 1024 === 0 ? `${maxBytes / 1024} KiB` : humanSize(maxBytes);
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json(
        errorBody("payload_too_large", `read request body: it is larger than the ${limit} limit; send a JSON body of at most ${limit} (a create or restore request is a few hundred bytes)`),
        413,
      ),
  });
}
