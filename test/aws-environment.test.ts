// Each Lambda function's environment as infra/ builds it, loaded by core/config.ts: a missing or wrong variable fails here, not after a deploy.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../core/config.ts";
import { ConfigError } from "../core/errors.ts";
import { readInfraConfig } from "../infra/config.ts";
import { FUNCTION_NAMES, IN_VPC, functionEnvironments, type FunctionName } from "../infra/environment.ts";

const DEPLOYED = {
  bucket: "colab-backup-production-backupsbucket-a1b2c3d4",
  bus: "colab-backup-production-EventsBus-x9y8z7",
  dashboardUrl: "https://d111111abcdef8.cloudfront.net",
  sesConfigurationSet: "colab-backup-production-MailConfig-1234",
};
const KMS_ARN = "arn:aws:kms:eu-central-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789";

/** What a deployer's .env holds: every runtime variable the functions share with the local runtime. */
const FULL_DEPLOY_ENV = {
  TZ: "Europe/Berlin",
  BACKUP_DAILY_SCHEDULE: "30 1 * * *",
  BACKUP_WEEKLY_SCHEDULE: "0 4 * * 6",
  BACKUP_MONTHLY_SCHEDULE: "0 5 1 * *",
  BACKUP_CLEANUP_SCHEDULE: "15 6 * * *",
  BACKUP_RETENTION_DAILY: "14",
  BACKUP_RETENTION_WEEKLY: "8",
  BACKUP_RETENTION_MONTHLY: "24",
  BACKUP_EMAIL_ENABLED: "true",
  BACKUP_EMAIL_FROM: "Backups <backup@colab.example>",
  BACKUP_EMAIL_TO: "ops@colab.example, ada@colab.example",
  BACKUP_DB_BUSY_TIMEOUT_MS: "45000",
  BACKUP_HEALTH_MAX_AGE_HOURS: "30",
  JWKS_URL: "https://crm.colab.example/.well-known/jwks.json",
  BACKUP_EFS_CRM_DIR: "/srv/colab-crm/",
  BACKUP_KMS_KEY_ARN: KMS_ARN,
};

/** What Lambda adds to every function's environment itself (infra/environment.ts SET_BY_LAMBDA). */
const lambda = (fn: FunctionName) => ({ AWS_REGION: "eu-central-1", AWS_LAMBDA_FUNCTION_NAME: `colab-backup-production-${fn}` });

function configs(deployEnv: Record<string, string>, deployed: Parameters<typeof functionEnvironments<string>>[1] = DEPLOYED) {
  const envs = functionEnvironments(readInfraConfig(deployEnv), deployed);
  return Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, loadConfig({ ...envs[fn], ...lambda(fn) }, "/var/task")])) as Record<FunctionName, Config>;
}

describe("function environments built by infra/", () => {
  it("load in core/config.ts for every function with a bare deploy (no .env): S3 store, SES transport, the bus only outside the VPC", () => {
    const all = configs({});
    for (const fn of FUNCTION_NAMES) {
      const c = all[fn];
      expect(c.storage, fn).toEqual({ kind: "s3", bucket: DEPLOYED.bucket, prefix: "backups/", kmsKeyId: undefined, region: "eu-central-1", endpoint: undefined });
      expect(c.email.transport, fn).toBe("ses");
      expect(c.backupDir, fn).toBe("/tmp/colab-backup");
      expect(c.eventBus, fn).toBe(IN_VPC.includes(fn) || fn === "Notifier" ? undefined : DEPLOYED.bus);
      expect(c.crmRoot, fn).toBe(IN_VPC.includes(fn) ? "/mnt/crm" : null);
    }
    expect(all.Api.server.dashboardOrigin).toBe(DEPLOYED.dashboardUrl);
  });

  it("give every function the same settings the local runtime reads from the same .env, plus the KMS key and the CRM folder on EFS", () => {
    const local = loadConfig(FULL_DEPLOY_ENV, "/srv/colab-crm");
    const all = configs(FULL_DEPLOY_ENV);
    for (const fn of FUNCTION_NAMES) {
      const c = all[fn];
      expect(c.schedules, fn).toEqual(local.schedules);
      expect(c.timeZone, fn).toBe("Europe/Berlin");
      expect(c.retention, fn).toEqual({ daily: 14, weekly: 8, monthly: 24 });
      expect({ ...c.email, transport: undefined }, fn).toEqual({ ...local.email, transport: undefined });
      expect(c.email.enabled, fn).toBe(true);
      expect(c.dbBusyTimeoutMs, fn).toBe(45_000);
      expect(c.server.healthMaxAgeHours, fn).toBe(30);
      expect(c.server.jwksUrl, fn).toBe(FULL_DEPLOY_ENV.JWKS_URL);
      expect(c.storage.kmsKeyId, fn).toBe(KMS_ARN);
      if (IN_VPC.includes(fn)) expect(c.crmRoot, fn).toBe("/mnt/crm/srv/colab-crm");
    }
  });

  it("pass the SES configuration set to the functions that send mail, and nothing about mail transport is left to a default", () => {
    const envs = functionEnvironments(readInfraConfig(FULL_DEPLOY_ENV), DEPLOYED);
    const withSet = FUNCTION_NAMES.filter((fn) => "BACKUP_SES_CONFIGURATION_SET" in envs[fn]);
    expect(withSet).toEqual(["Notifier", "Api"]);
    for (const fn of FUNCTION_NAMES) expect(envs[fn].BACKUP_EMAIL_TRANSPORT, fn).toBe("ses");
    // Without mail resources the set is absent (the SesMailer then sends without one).
    const bare = functionEnvironments(readInfraConfig({}), { bucket: DEPLOYED.bucket, bus: DEPLOYED.bus });
    for (const fn of FUNCTION_NAMES) expect(bare[fn], fn).not.toHaveProperty("BACKUP_SES_CONFIGURATION_SET");
  });

  it("fail on a wrong runtime variable: the function's config load names it", () => {
    expect(() => configs({ BACKUP_RETENTION_DAILY: "two weeks" })).toThrow(ConfigError);
    expect(() => configs({ BACKUP_RETENTION_DAILY: "two weeks" })).toThrow(/BACKUP_RETENTION_DAILY must be a whole number/);
    expect(() => configs({ BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_FROM: "backup@colab.example" })).toThrow(/BACKUP_EMAIL_TO: must be set/);
  });

  it("refuse at deploy what could not work on AWS: mail without an SES identity, a KMS key that is not an ARN, a health window no alarm can watch", () => {
    expect(() => readInfraConfig({ BACKUP_EMAIL_ENABLED: "yes", BACKUP_EMAIL_TO: "ops@colab.example" })).toThrow(
      /BACKUP_EMAIL_ENABLED is true but no SES identity is known.*set BACKUP_EMAIL_FROM/,
    );
    expect(() => readInfraConfig({ BACKUP_KMS_KEY_ARN: "alias/backups" })).toThrow(/BACKUP_KMS_KEY_ARN must be a KMS key ARN/);
    expect(() => readInfraConfig({ BACKUP_KMS_KEY_ARN: KMS_ARN, BACKUP_KMS_KEY_ID: KMS_ARN.replace("0a1b", "ffff") })).toThrow(/name different keys/);
    expect(() => readInfraConfig({ BACKUP_HEALTH_MAX_AGE_HOURS: "200" })).toThrow(/from 1 to 168/);
    // The runtime's own name for the key is accepted and reaches the functions.
    const envs = functionEnvironments(readInfraConfig({ BACKUP_KMS_KEY_ID: KMS_ARN }), DEPLOYED);
    for (const fn of FUNCTION_NAMES) expect(envs[fn].BACKUP_KMS_KEY_ID, fn).toBe(KMS_ARN);
  });

  it("are the only environments infra/ gives its functions (no component sets `environment` past baseArgs)", () => {
    // infra/*.ts needs SST's globals, so it cannot be imported here; this guards the one way around the mapping.
    const functionsTs = readFileSync(new URL("../infra/functions.ts", import.meta.url), "utf8");
    const apiTs = readFileSync(new URL("../infra/api.ts", import.meta.url), "utf8");
    expect(functionsTs.match(/^\s*environment[:,]/gm)).toEqual(["    environment,"]);
    expect(apiTs.match(/^\s*environment:.*$/gm)).toEqual(["    environment: { COLAB_BACKUP_API_URL: api.url },"]); // the StaticSite's build
    expect(functionsTs.match(/new sst\.aws\.Function\(/g)).toHaveLength(3);
    expect(functionsTs.match(/\.\.\.base\((name|"Cleanup"|"Notifier")\),/g)).toHaveLength(3);
    expect(apiTs).toContain('...baseArgs(environments({ bucket, bus, email, dashboardUrl: site.url }).Api),');
  });
});
