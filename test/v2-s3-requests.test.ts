// What a v2 backup with nothing changed costs on S3 (LocalStack), counted on the wire by the SDK's middleware: at most 20 requests.
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { loadConfig } from "../core/config.ts";
import { makeEngine } from "../core/engine.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { s3TestPrefix } from "./localstack/s3-test-prefix.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { countS3Requests } from "./helpers/s3-requests.ts";

const { ls, admin, prefix } = s3TestPrefix("v2-requests");

/** The target for "LocalStack S3: requests for a backup when nothing changed". */
const MAX_UNCHANGED_REQUESTS = 20;

describe("S3 requests of a v2 backup", () => {
  it("sends at most 20 when nothing changed: lock, catalog index, newest manifest, packs listing, manifest, audit", async () => {
    const config = loadConfig({ CRM_ROOT: makeCrm().root, BACKUP_FORMAT: "v2" });
    const storage = new S3Storage({ bucket: ls.bucket, prefix, region: ls.region, endpoint: ls.endpoint });
    const a = { storage, counter: countS3Requests(storage.client), engine: makeEngine({ config, storage, workRoot: tempDir("work-") }) };
    // A store as the schedule leaves it: dailies, a weekly and a monthly (each type's newest manifest is read for its blobs).
    for (const type of ["daily", "weekly", "monthly", "daily"] as const) await runBackup(a.engine, { type });
    a.counter.reset();
    const same = await runBackup(a.engine, { type: "daily" });
    if (same.skipped || same.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
    expect(same.manifest.stored).toMatchObject({ packsAdded: 0, bytesAdded: 0 });
    expect(a.counter.total(), `requests in the same process: ${a.counter.describe()}`).toBeLessThanOrEqual(MAX_UNCHANGED_REQUESTS);
    // The catalog comes from its index: no manifest is read but the newest of each type (three here).
    expect(a.counter.byOperation.GetObject ?? 0, a.counter.describe()).toBeLessThanOrEqual(1 + 3);
    expect(a.counter.byOperation.ListObjectsV2 ?? 0, a.counter.describe()).toBeLessThanOrEqual(7);
    a.storage.close();
  });
});
