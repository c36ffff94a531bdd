// The API Lambda entry point: API Gateway HTTP API events (payload format 2.0) into the Hono admin app.
import { handle, type LambdaContext, type LambdaEvent } from "hono/aws-lambda";
import { createApp, type ApiDeps } from "../api/app.ts";
import { buildApiDeps, lazy } from "./deps.ts";

export function makeHandler(deps: ApiDeps) {
  return handle(createApp(deps));
}

const app = lazy(async () => makeHandler(await buildApiDeps()));

export const handler = async (event: LambdaEvent, context?: LambdaContext) => (await app())(event, context);
