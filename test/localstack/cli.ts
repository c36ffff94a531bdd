// `npm run localstack`: starts (or reuses) LocalStack with the test resources, prints how to reach it, and holds it until Ctrl-C.
import { REGION, TEST_BUCKET, awsEnv } from "./config.ts";
import { acquireLocalStack, LOG_FILE } from "./localstack.ts";
import { provisionResources } from "./resources.ts";

const handle = await acquireLocalStack((line) => console.error(line));
const ctx = { endpoint: handle.endpoint, region: REGION, bucket: TEST_BUCKET, version: handle.version };
try {
  await provisionResources(ctx);
} catch (err) {
  await handle.release();
  throw err;
}
console.log(`LocalStack ${handle.version} at ${handle.endpoint} (${handle.started ? "started here" : "reused"}; log ${LOG_FILE})`);
for (const [k, v] of Object.entries(awsEnv(ctx))) console.log(`export ${k}=${v}`);
console.log("Ctrl-C to stop.");

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Stops the server only if the harness started it and no test run still uses it.
  console.error(`localstack: ${signal}, releasing`);
  await handle.release();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
// Keep the event loop alive until a signal arrives.
setInterval(() => undefined, 1 << 30);
