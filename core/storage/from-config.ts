// Picks the store the configuration names: BACKUP_DIR on this machine, or S3 (loaded only then: the SDK is heavy to start).
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config.ts";
import { FsStorage } from "./fs-storage.ts";
import type { Storage } from "./storage.ts";

export async function storageFromConfig(config: Config): Promise<Storage> {
  const { storage: s } = config;
  if (s.kind === "s3") {
    const { S3Storage } = await import("./s3-storage.ts");
    return new S3Storage({ bucket: s.bucket!, prefix: s.prefix, region: s.region, endpoint: s.endpoint, kmsKeyId: s.kmsKeyId });
  }
  const tempDir = path.join(config.backupDir, "temp");
  await mkdir(tempDir, { recursive: true });
  return new FsStorage(config.backupDir, { tempDir });
}
