// What tests need to reach LocalStack: the endpoint, region, dummy credentials and test resource names, shared by harness and tests.

/** Services started (and required healthy) for the test suites; add one here when a suite needs it. */
export const SERVICES = ["s3", "sqs", "ses", "events", "sts", "iam"] as const;

export const DEFAULT_ENDPOINT = "http://127.0.0.1:4566";
export const REGION = "us-east-1";
/** LocalStack accepts any credentials; these are the conventional ones. */
export const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;
export const TEST_BUCKET = "colab-backup-test";

/** What the globalSetup provides to every test file (via `inject("localstack")`). */
export interface LocalStackContext {
  endpoint: string;
  region: string;
  bucket: string;
  /** The LocalStack version reported by /_localstack/health. */
  version: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    localstack: LocalStackContext;
  }
}

/** The environment a process needs to talk to the test LocalStack through the AWS SDK's standard variables. */
export function awsEnv(ctx: LocalStackContext): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: ctx.endpoint,
    AWS_REGION: ctx.region,
    AWS_DEFAULT_REGION: ctx.region,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    BACKUP_BUCKET: ctx.bucket,
  };
}
