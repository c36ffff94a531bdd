// The API Lambda entry point: API Gateway HTTP API events (payload format 2.0) into the Hono admin app.
import { handle, type LambdaContext, type LambdaEvent } from "hono/aws-lambda";
import { createApp, type ApiDeps } from "../api/app.ts";
import { ConfigError } from "../core/errors.ts";

export function makeHandler(deps: ApiDeps) {
  return handle(createApp(deps));
}

let built: ReturnType<typeof makeHandler> | undefined;

/**
 * What Lambda invokes. Deps are built on the first invocation and kept for the container's life;
 * importing this module (tests, the SST build) builds nothing.
 */
export const handler = async (event: LambdaEvent, context?: LambdaContext) => {
  built ??= makeHandler(await loadAwsDeps());
  return built(event, context);
};

// functions/deps.ts, written in the AWS issue, will build ApiDeps (S3 store, EventBridge job service, SES, presigned downloads).
async function loadAwsDeps(): Promise<ApiDeps> {
  throw new ConfigError(
    "start API handler: AWS dependencies are not wired yet; functions/deps.ts (the AWS issue) builds them from linked resources. Until then call makeHandler(deps) with deps built by hand",
  );
}
