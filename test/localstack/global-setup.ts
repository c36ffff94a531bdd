// vitest globalSetup: makes sure LocalStack is up with the test resources before any test file runs, and releases it after.
import type { TestProject } from "vitest/node";
import { REGION, TEST_BUCKET, awsEnv, type LocalStackContext } from "./config.ts";
import { acquireLocalStack, LOG_FILE } from "./localstack.ts";
import { provisionResources } from "./resources.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // No fallback and no skip: a suite that cannot reach LocalStack must fail the run, loudly.
  let handle;
  try {
    handle = await acquireLocalStack((line) => console.error(line));
  } catch (err) {
    throw new Error(
      `LocalStack is required by the tests and could not be started (see ${LOG_FILE}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const ctx: LocalStackContext = { endpoint: handle.endpoint, region: REGION, bucket: TEST_BUCKET, version: handle.version };
  try {
    await provisionResources(ctx);
  } catch (err) {
    await handle.release();
    throw err;
  }
  project.provide("localstack", ctx);
  // Also as the SDK's standard variables, for code under test that builds its own clients and for child processes.
  Object.assign(process.env, awsEnv(ctx));
  return () => handle.release();
}
