// A LocalStack S3 test file's set-up: the globalSetup's context (the file fails without it: S3 tests are never
// skipped), the SDK's credentials, a prefix of its own in the shared bucket, and an admin client that deletes that
// prefix after the file's tests.
import { randomBytes } from "node:crypto";
import { afterAll, inject } from "vitest";
import { CREDENTIALS } from "./config.ts";
import { adminS3, deletePrefix } from "./resources.ts";

export function s3TestPrefix(name: string) {
  const ls = inject("localstack");
  if (!ls?.endpoint) throw new Error("the LocalStack globalSetup did not run (see vitest.config.ts): S3 tests cannot be skipped");
  process.env.AWS_ACCESS_KEY_ID ??= CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= CREDENTIALS.secretAccessKey;
  const prefix = `test-runs/${name}-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}/`;
  const admin = adminS3(ls);
  afterAll(async () => {
    await deletePrefix(admin, ls.bucket, prefix);
    admin.destroy();
  });
  return { ls, admin, prefix };
}
