import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_FILES, loadConfig, readEnvFile } from "./config.ts";
import { ConfigError } from "./errors.ts";

describe("loadConfig", () => {
  it("applies the original system's defaults", () => {
    const c = loadConfig({}, "/srv/app");
    expect(c.backupDir).toBe("/srv/app/backups");
    expect(c.retention).toEqual({ daily: 30, weekly: 12, monthly: 12 });
    expect(c.schedules).toEqual({ daily: "0 2 * * *", weekly: "0 1 * * 0", monthly: "0 0 1 * *", cleanup: "0 3 * * *" });
    expect(c.timeZone).toBe("UTC");
    expect(c.email.enabled).toBe(false);
    expect(c.email.smtp.port).toBe(587);
    expect(c.crmRoot).toBeNull();
  });

  it("derives CRM paths from CRM_ROOT and lets DATABASE_PATH, UPLOADS_DIR, LOGS_DIR override them", () => {
    const c = loadConfig({ CRM_ROOT: "crm", LOGS_DIR: "/var/log/crm" }, "/srv");
    expect(c.paths.database).toBe("/srv/crm/prisma/dev.db");
    expect(c.paths.uploads).toBe("/srv/crm/uploads");
    expect(c.paths.logs).toBe("/var/log/crm");
    expect(c.paths.configFiles).toEqual(CONFIG_FILES.map((f) => path.join("/srv/crm", f)));
    expect(c.paths.configFiles.some((f) => /\.env$/.test(f))).toBe(false);
  });

  it.each([
    [{ BACKUP_RETENTION_DAILY: "thirty" }, /BACKUP_RETENTION_DAILY must be a whole number.*"thirty"/],
    [{ BACKUP_RETENTION_WEEKLY: "-1" }, /BACKUP_RETENTION_WEEKLY must be a whole number/],
    [{ BACKUP_DAILY_SCHEDULE: "0 2 * *" }, /BACKUP_DAILY_SCHEDULE must be a 5-field cron expression.*expected 5 fields/],
    [{ BACKUP_CLEANUP_SCHEDULE: "99 3 * * *" }, /BACKUP_CLEANUP_SCHEDULE must be a 5-field cron/],
    [{ BACKUP_EMAIL_ENABLED: "maybe" }, /BACKUP_EMAIL_ENABLED must be true or false; got "maybe"/],
    [{ SMTP_PORT: "70000" }, /SMTP_PORT must be a port number/],
    [{ SMTP_SECURE: "yes please" }, /SMTP_SECURE must be true or false/],
    [{ TZ: "Mars/Olympus" }, /TZ must be an IANA time zone.*Mars\/Olympus/],
    [{ BACKUP_EMAIL_TO: "not-an-address" }, /BACKUP_EMAIL_TO must be an email address/],
    [{ BACKUP_EMAIL_ENABLED: "true" }, /BACKUP_EMAIL_TO: must be set when BACKUP_EMAIL_ENABLED=true/],
    [{ PORT: "http" }, /PORT must be a port number/],
    [{ JWT_SECRET: "short" }, /JWT_SECRET must be at least 32 characters/],
    [{ JWKS_URL: "not a url" }, /JWKS_URL must be an https:\/\/ URL/],
    [{ JWKS_URL: "http://crm.example.com/.well-known/jwks.json" }, /JWKS_URL must be an https:\/\/ URL.*plain http to crm\.example\.com; use https \(http is allowed only on loopback/],
    [{ JWKS_URL: "http://127.0.0.1.nip.io/jwks.json" }, /JWKS_URL must be an https:\/\/ URL.*plain http/],
    [{ JWKS_URL: "ftp://crm.example.com/jwks.json" }, /JWKS_URL must be an https:\/\/ URL.*not an http\(s\) URL/],
    [{ DASHBOARD_ORIGIN: "backup.example.com" }, /DASHBOARD_ORIGIN must be an origin/],
    [{ BACKUP_STORAGE: "gcs" }, /BACKUP_STORAGE must be "fs".*or "s3"/],
    [{ BACKUP_STORAGE: "s3" }, /BACKUP_BUCKET: must be set when BACKUP_STORAGE=s3/],
    [{ BACKUP_BUCKET: "Bad_Bucket" }, /BACKUP_BUCKET must be an S3 bucket name/],
    [{ AWS_REGION: "europe" }, /AWS_REGION must be a region name/],
    [{ AWS_ENDPOINT_URL: "localhost:4566" }, /AWS_ENDPOINT_URL must be a URL/],
    [{ BACKUP_EMAIL_TRANSPORT: "pigeon" }, /BACKUP_EMAIL_TRANSPORT must be/],
    [{ BACKUP_EMAIL_TRANSPORT: "smtp" }, /SMTP_HOST: must be set/],
  ])("rejects %o with a message naming the variable", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("accepts an https JWKS_URL anywhere and a plain http one only on loopback", () => {
    for (const url of ["https://crm.example.com/.well-known/jwks.json", "http://127.0.0.1:8080/jwks.json", "http://127.9.9.9/jwks.json", "http://127.1/jwks.json", "http://localhost:3001/jwks.json", "http://[::1]:3001/jwks.json"]) {
      expect(loadConfig({ JWKS_URL: url }).server.jwksUrl, url).toBe(url);
    }
  });

  it("reports every bad variable at once", () => {
    try {
      loadConfig({ BACKUP_RETENTION_DAILY: "x", TZ: "Nowhere/Land" });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(/BACKUP_RETENTION_DAILY[\s\S]*TZ/);
    }
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ BACKUP_RETENTION_DAILY: "", TZ: "" }).retention.daily).toBe(30);
  });
});

describe("readEnvFile", () => {
  it("reads .env without overriding the real environment", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cfg-"));
    writeFileSync(path.join(dir, ".env"), 'BACKUP_RETENTION_DAILY=7\nTZ="Europe/Berlin"\n# comment\n');
    const env = readEnvFile(path.join(dir, ".env"), { TZ: "UTC" });
    expect(env.BACKUP_RETENTION_DAILY).toBe("7");
    expect(env.TZ).toBe("UTC");
    expect(loadConfig(env).retention.daily).toBe(7);
  });

  it("returns the environment unchanged when there is no .env", () => {
    expect(readEnvFile("/nonexistent/.env", { A: "1" })).toEqual({ A: "1" });
  });
});
