// The API Lambda entry point: API Gateway HTTP API events (payload format 2.0) into the Hono admin app.
import { Hono, type Context } from "hono";
import { handle, type LambdaContext, type LambdaEvent } from "hono/aws-lambda";
import { createApp, type ApiDeps } from "../api/app.ts";
import { errorResponse } from "../api/errors.ts";
import { jsonLogger } from "../core/engine.ts";
import { ConfigError } from "../core/errors.ts";
import { buildApiDeps, lazy } from "../runtime/aws.ts";

/**
 * The address API Gateway saw the request come from. Not hono's getConnInfo, which falls back to X-Forwarded-For
 * (a header the client writes) when sourceIp is missing; a missing one means "unknown" here.
 */
export function lambdaClientAddress(c: Context): string | undefined {
  return (c.env as { requestContext?: { http?: { sourceIp?: string } } } | undefined)?.requestContext?.http?.sourceIp;
}

export function makeHandler(deps: ApiDeps) {
  return handle(createApp({ clientAddress: lambdaClientAddress, ...deps }));
}

/**
 * While the function's configuration is wrong (no JWT secret, no bus, a bad variable), every request gets the 503 that a
 * ConfigError gets inside the app, naming the fault, instead of API Gateway's bare 500 for a crashed invocation.
 */
export function misconfiguredHandler(err: ConfigError) {
  const log = jsonLogger(process.stdout);
  return handle(new Hono().all("*", (c) => errorResponse(err, c, log)));
}

const app = lazy(async () => makeHandler(await buildApiDeps()));

export const handler = async (event: LambdaEvent, context?: LambdaContext) => {
  let run: Awaited<ReturnType<typeof app>> | ReturnType<typeof misconfiguredHandler>;
  try {
    run = await app();
  } catch (err) {
    // Not cached: lazy() tries to build again on the next request. Anything else is a bug, and fails the invocation.
    if (!(err instanceof ConfigError)) throw err;
    run = misconfiguredHandler(err);
  }
  return run(event, context);
};
