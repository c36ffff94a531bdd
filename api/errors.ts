// Maps errors to HTTP answers: one JSON error shape, named core errors to 4xx, anything else to a logged 500.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError } from "zod";
import type { Logger } from "../core/engine.ts";
import {
  ChecksumMismatchError, ConfigError, ConflictError, NotFoundError, StoreError, UnsafeArchiveError, ValidationError, errorMessage,
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
  const summary = fields.map((f) => `${f.path}: ${f.message}`).join("; ");
  return { error: { code: "validation_error", message: `invalid request: ${summary}`, fields } };
}

/** The zod-openapi hook: every request that fails its schema gets the same 400 shape. */
export function validationHook(result: { success: boolean; error?: ZodError; target: string }, c: Context): Response | undefined {
  if (!result.success && result.error) return c.json(validationBody(result.error, result.target), 400);
  return undefined;
}

export function errorResponse(err: unknown, c: Context, log: Logger): Response {
  if (err instanceof ZodError) return c.json(validationBody(err), 400);
  if (err instanceof HTTPException) return httpExceptionResponse(err, c);
  if (err instanceof ValidationError || err instanceof ConfigError) return c.json(errorBody(err.code, err.message), 400);
  if (err instanceof NotFoundError) return c.json(errorBody(err.code, err.message), 404);
  // The holder tells the dashboard what to wait for: the running job, or the lock record of another process.
  if (err instanceof ConflictError) return c.json(errorBody(err.code, err.message, { running: err.holder ?? null }), 409);
  if (err instanceof UnsafeArchiveError || err instanceof ChecksumMismatchError) return c.json(errorBody(err.code, err.message), 422);
  // The store's fault, not the client's: a 5xx whose message names the damaged key so the admin can act on it.
  if (err instanceof StoreError) return c.json(errorBody(err.code, err.message), 500);
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
