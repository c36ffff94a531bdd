// The API Lambda entry point: API Gateway HTTP API events (payload format 2.0) into the Hono admin app.
import type { Context } from "hono";
import { handle, type LambdaContext, type LambdaEvent } from "hono/aws-lambda";
import { createApp, type ApiDeps } from "../api/app.ts";
import { buildApiDeps, lazy } from "./deps.ts";

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

const app = lazy(async () => makeHandler(await buildApiDeps()));

export const handler = async (event: LambdaEvent, context?: LambdaContext) => (await app())(event, context);
