// Whose fault an error is: store damage and server misconfiguration answer 5xx (503 for configuration), never a 400 that blames the client.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { ConfigError, StoreError, ValidationError } from "../core/errors.ts";
import { manifestKey, newBackupId } from "../core/ids.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { CREDENTIALS } from "../test/localstack/config.ts";
import { backupNow, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

interface ErrorJson {
  error: { code: string; message: string; fields?: unknown };
}

/** A dep that throws what the test gives it, reached through GET /api/backup/status. */
const throwingNotifications = (err: Error) => ({
  enabled: true,
  transport: "x",
  sendTest: async () => ({ sent: true, transport: "x", detail: "" }),
  lastResult: () => {
    throw err;
  },
});

describe("error mapping", () => {
  it("answers 503 config_error for a ConfigError, saying the server is misconfigured and what to fix", async () => {
    api = await makeTestApi({ notifications: throwingNotifications(new ConfigError('list "x": bucket "b" does not exist (check the bucket name and region)')) });
    const res = await api.call("/api/backup/status");
    expect(res.status).toBe(503);
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe("config_error");
    expect(body.error.message).toMatch(/^the server is misconfigured: .*bucket "b" does not exist.*; fix the server's configuration/);
    expect(api.logs.some((l) => l.includes('"level":"error"') && l.includes('bucket \\"b\\" does not exist'))).toBe(true);
  });

  it("answers 500 store_error with the StoreError's message, which names the damaged key", async () => {
    api = await makeTestApi({ notifications: throwingNotifications(new StoreError("read manifest daily/x.json: not JSON")) });
    const res = await api.call("/api/backup/status");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "store_error", message: "read manifest daily/x.json: not JSON" } });
  });

  it("keeps ValidationError a 400", async () => {
    api = await makeTestApi({ notifications: throwingNotifications(new ValidationError("restore: choose at least one component")) });
    const res = await api.call("/api/backup/status");
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorJson).error.code).toBe("validation_error");
  });
});

describe("a damaged store is the server's fault", () => {
  it("answers 500, not 400, for a stored manifest that does not match the schema (a ZodError from the store)", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    writeFileSync(path.join(api.deps.engine.config.backupDir, manifestKey(id)), JSON.stringify({ id, type: "manual", archive: "not an object" }));
    const res = await api.call(`/api/backup/${id}`);
    expect(res.status).toBe(500);
    expect(((await res.json()) as ErrorJson).error).not.toHaveProperty("fields");
  });

  it("answers 500, not 400, for a stored manifest that is not JSON", async () => {
    api = await makeTestApi();
    const id = newBackupId("daily", new Date());
    mkdirSync(path.join(api.deps.engine.config.backupDir, "daily"), { recursive: true });
    writeFileSync(path.join(api.deps.engine.config.backupDir, manifestKey(id)), "{not json");
    const res = await api.call(`/api/backup/${id}`);
    expect(res.status).toBe(500);
  });

  it("answers 500 store_error naming the key when a file in the store sits where a folder of records should be", async () => {
    api = await makeTestApi();
    writeFileSync(path.join(api.deps.engine.config.backupDir, "jobs"), "someone's stray file");
    const res = await api.call("/api/backup/create", { method: "POST", json: {} });
    expect(res.status).toBe(500);
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe("store_error");
    expect(body.error.message).toMatch(/cannot store "jobs\/job-\S+\.json": a parent of it is already an object/);
  });
});

describe("a misconfigured store is a 503", () => {
  it("answers 503 config_error naming the bucket when the S3 bucket does not exist (LocalStack)", async () => {
    const ls = inject("localstack");
    process.env.AWS_ACCESS_KEY_ID ??= CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY ??= CREDENTIALS.secretAccessKey;
    const storage = new S3Storage({ bucket: "colab-backup-no-such-bucket", prefix: "x/", region: ls.region, endpoint: ls.endpoint });
    api = await makeTestApi();
    api.deps.engine.storage = storage;
    try {
      const res = await api.call("/api/backup");
      expect(res.status).toBe(503);
      const body = (await res.json()) as ErrorJson;
      expect(body.error.code).toBe("config_error");
      expect(body.error.message).toMatch(/server is misconfigured: .*bucket "colab-backup-no-such-bucket" does not exist/);
    } finally {
      storage.close();
    }
  });
});
