// The LocalStack step: a v2 backup of the bench CRM to S3, then one with nothing changed, its S3 requests counted by operation.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { runBackup } from "../core/backup.ts";
import { loadConfig } from "../core/config.ts";
import { makeEngine } from "../core/engine.ts";
import { S3Storage } from "../core/storage/s3-storage.ts";
import { deletePrefix } from "../test/localstack/resources.ts";
import { countS3Requests } from "../test/helpers/s3-requests.ts";

export const LOCALSTACK = "http://127.0.0.1:4566";
const BUCKET = "colab-backup-bench";
const REGION = "us-east-1";

export interface S3Requests {
  /** Requests of the first backup, and of the second with nothing changed; by operation for the second. */
  first: number;
  unchanged: number;
  unchangedByOperation: Record<string, number>;
  firstWallS: number;
  unchangedWallS: number;
}

/** Whether LocalStack answers (`npm run localstack` starts it); the step is left out otherwise. */
export async function localStackUp(): Promise<boolean> {
  try {
    return (await fetch(`${LOCALSTACK}/_localstack/health`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

/** Backs `crmRoot` up twice into a fresh prefix of the bench bucket, counting requests on the wire; removes the prefix after. */
export async function measureS3Requests(crmRoot: string, log: (line: string) => void): Promise<S3Requests> {
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  const prefix = `bench-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}/`;
  const storage = new S3Storage({ bucket: BUCKET, prefix, region: REGION, endpoint: LOCALSTACK });
  await storage.client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((err: { name?: string }) => {
    if (err.name !== "BucketAlreadyOwnedByYou" && err.name !== "BucketAlreadyExists") throw err;
  });
  const counter = countS3Requests(storage.client);
  const workRoot = mkdtempSync(path.join(tmpdir(), "colab-bench-s3-"));
  const engine = makeEngine({ config: loadConfig({ CRM_ROOT: crmRoot, BACKUP_FORMAT: "v2", BACKUP_EMAIL_ENABLED: "false" }), storage, workRoot });
  try {
    const once = async () => {
      counter.reset();
      const t = performance.now();
      const out = await runBackup(engine, { type: "daily", actor: "bench" });
      if (out.skipped) throw new Error("bench S3 backup: skipped unexpectedly");
      return { n: counter.total(), s: (performance.now() - t) / 1000 };
    };
    const first = await once();
    log(`  colab-backup S3 (LocalStack) backup: ${first.s.toFixed(2)} s, ${first.n} requests`);
    const again = await once();
    const byOperation = { ...counter.byOperation };
    log(`  colab-backup S3 (LocalStack) backup-unchanged: ${again.s.toFixed(2)} s, ${again.n} requests (${counter.describe()})`);
    return { first: first.n, unchanged: again.n, unchangedByOperation: byOperation, firstWallS: first.s, unchangedWallS: again.s };
  } finally {
    await deletePrefix(storage.client, BUCKET, prefix).catch(() => undefined);
    storage.close();
    rmSync(workRoot, { recursive: true, force: true });
  }
}
