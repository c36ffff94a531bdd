// Maps errors to HTTP answers: one JSON error shape; the client's faults to 4xx, the server's (store, configuration, bugs) to 5xx.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import type { Logger } from "../core/engine.ts";
import {
  ChecksumMismatchError, ConfigError, DiskFullError, ConflictError, NotFoundError, StoreError, UnsafeArchiveError, ValidationError, errorMessage,
} from "../core/errors.ts";

export interface FieldError {
  path: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: FieldError[] };
  [extra: string]: unknown;
}

export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message }, ...extra };
}

const TARGET_NAMES: Record<string, string> = { json: "body", query: "query", param: "path" };

/** Zod issues as field messages; the summary repeats them so a client that shows only `message` still says what to fix. */
export function validationBody(err: ZodError, target?: string): ErrorBody {
  const fields = err.issues.map((i) => ({
    path: i.path.length ? i.path.map(String).join(".") : (TARGET_NAMES[target ?? ""] ?? "request"),
    message: i.message,
  }));
  return fieldErrorsBody(fields);
}

/** The 400 body for field errors, from a schema or from a check against stored data (a restore's include paths). */
export function fieldErrorsBody(fields: FieldError[]): ErrorBody {
  const summary = fields.map((f) => `${f.path}: ${f.message}`).join("; ");
  return { error: { code: "validation_error", message: `invalid request: ${summary}`, fields } };
}

/** The zod-openapi hook: every request that fails its schema gets the same 400 shape. */
export function validationHook(result: { success: boolean; error?: ZodError; target: string }, c: Context): Response | undefined {
  if (!result.success && result.error) return c.json(validationBody(result.error, result.target), 400);
  return undefined;
}

/**
 * There is deliberately no ZodError branch: requests are validated by validationHook, so a ZodError that reaches here
 * came from something the server read (a stored manifest or record) and is the server's fault, never the client's.
 */
export function errorResponse(err: unknown, c: Context, log: Logger): Response {
  if (err instanceof HTTPException) return httpExceptionResponse(err, c);
  if (err instanceof ValidationError) return c.json(errorBody(err.code, err.message), 400);
  if (err instanceof NotFoundError) return c.json(errorBody(err.code, err.message), 404);
  // The holder tells the dashboard what to wait for: the running job, or the lock record of another process.
  if (err instanceof ConflictError) return c.json(errorBody(err.code, err.message, { running: err.holder ?? null }), 409);
  if (err instanceof UnsafeArchiveError || err instanceof ChecksumMismatchError) return c.json(errorBody(err.code, err.message), 422);
  if (err instanceof ConfigError) {
    // The operator must act (bucket, credentials, paths); retrying later may work once they have, hence 503 rather than 500.
    log.error("request failed: server misconfigured", { method: c.req.method, path: c.req.path, error: err.message });
    return c.json(errorBody(err.code, `the server is misconfigured: ${err.message}; fix the server's configuration and restart it`), 503);
  }
  // A full disk is the server's state, named in the message; 507 says so without blaming the request.
  if (err instanceof DiskFullError) return c.json(errorBody(err.code, err.message), 507);
  if (err instanceof StoreError) {
    // Its message names the damaged key and says nothing secret, and the admin needs it to repair the store.
    log.error("request failed: damaged store", { method: c.req.method, path: c.req.path, error: err.message });
    return c.json(errorBody(err.code, err.message), 500);
  }
  log.error("request failed", {
    method: c.req.method,
    path: c.req.path,
    error: errorMessage(err),
    stack: err instanceof Error ? err.stack : undefined,
  });
  return c.json(errorBody("internal_error", "internal error; see the server log"), 500);
}

function httpExceptionResponse(err: HTTPException, c: Context): Response {
  const status = err.status as ContentfulStatusCode;
  if (status === 400 && /json/i.test(err.message)) {
    return c.json(errorBody("validation_error", "invalid request: the body is not valid JSON; send a JSON object with Content-Type: application/json"), 400);
  }
  if (status === 415) {
    return c.json(errorBody("unsupported_media_type", "invalid request: send the body as JSON with Content-Type: application/json"), 415);
  }
  return c.json(errorBody(status >= 500 ? "internal_error" : "bad_request", err.message || "request failed"), status);
}
