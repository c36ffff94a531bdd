import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { silentLogger } from "../engine.ts";
import type { StoredManifest } from "../manifest.ts";
import { OutboxMailer, SmtpMailer, type EmailMessage, type Mailer } from "./mailer.ts";
import { Notifications } from "./notifications.ts";
import { envelope } from "../events/bus.ts";
import { backupSucceededDetail } from "../events/job-events.ts";

const manifest: StoredManifest = {
  formatVersion: 1, tool: "colab-backup", id: "daily-20261126T020000Z-abcdef", name: "colab-backup-daily-20261126T020000Z-abcdef", type: "daily",
  description: "nightly <run>", createdAt: "2026-11-26T02:00:00.000Z", host: "crm-1",
  components: { database: { status: "included", fileCount: 1, totalSize: 4096, files: [] }, logs: { status: "missing", note: "no logs folder", fileCount: 0, totalSize: 0, files: [] } },
  archive: { key: "daily/x.tar.gz", sizeBytes: 123456, sha256: "a".repeat(64), verifiedAt: "2026-11-26T02:00:01.000Z" },
};

class Recording implements Mailer {
  readonly transport = "recording";
  sent: EmailMessage[] = [];
  constructor(private readonly fail = false) {}
  async send(m: EmailMessage) {
    if (this.fail) throw new Error("connect ECONNREFUSED 127.0.0.1:1");
    this.sent.push(m);
    return { messageId: "1", detail: "ok" };
  }
}

describe("Notifications", () => {
  it("sends a success email with id, name, type, size, duration and components in text and HTML", async () => {
    const mailer = new Recording();
    const n = new Notifications(loadConfig({ BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "a@x.io, b@x.io", BACKUP_EMAIL_FROM: "backup@x.io" }).email, mailer, silentLogger);
    await n.forEvent(envelope("backup.succeeded", backupSucceededDetail(manifest, 2500)));
    const [m] = mailer.sent;
    expect(m).toMatchObject({ from: "backup@x.io", to: ["a@x.io", "b@x.io"], subject: "[colab-backup] daily backup succeeded: daily-20261126T020000Z-abcdef" });
    for (const body of [m!.text, m!.html]) {
      for (const s of ["daily-20261126T020000Z-abcdef", "colab-backup-daily-20261126T020000Z-abcdef", "120.6 KiB", "2.5 s", "database (1 files, 4.0 KiB)", "logs (missing: no logs folder)"]) expect(body).toContain(s);
    }
    expect(m!.html).toContain("nightly &lt;run&gt;");
    expect(n.lastResult()).toMatchObject({ ok: true, transport: "recording" });
  });

  it("follows BACKUP_EMAIL_ENABLED but still sends a test email", async () => {
    const mailer = new Recording();
    const n = new Notifications(loadConfig({ BACKUP_EMAIL_TO: "a@x.io" }).email, mailer, silentLogger);
    await n.backupFailed("daily", "disk full");
    expect(mailer.sent).toHaveLength(0);
    expect(await n.sendTest("admin@x.io")).toMatchObject({ sent: true, transport: "recording" });
    expect(mailer.sent[0]!.text).toContain("admin@x.io");
  });

  it("never throws when sending fails, and remembers the failure for status", async () => {
    const n = new Notifications(loadConfig({ BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "a@x.io" }).email, new Recording(true), silentLogger);
    await expect(n.backupFailed("daily", "boom")).resolves.toMatchObject({ ok: false });
    expect(n.lastResult()).toMatchObject({ ok: false, detail: expect.stringContaining("ECONNREFUSED") });
  });

  it("failure emails say what to check", async () => {
    const mailer = new Recording();
    await new Notifications(loadConfig({ BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "a@x.io" }).email, mailer, silentLogger).backupFailed("weekly", "database is locked");
    expect(mailer.sent[0]!.text).toMatch(/database is locked[\s\S]*free disk space[\s\S]*permission/);
  });

  it("writes real .eml files to the outbox", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "outbox-"));
    const n = new Notifications(loadConfig({}).email, new OutboxMailer(dir), silentLogger);
    const r = await n.sendTest("cli");
    expect(r.sent).toBe(true);
    const [file] = readdirSync(dir);
    const eml = readFileSync(path.join(dir, file!), "utf8");
    expect(eml).toMatch(/^From: colab-backup@localhost/m);
    expect(eml).toMatch(/^To: admin@localhost/m);
    expect(eml).toMatch(/multipart\/alternative[\s\S]*text\/plain[\s\S]*text\/html/);
  });

  it("reports an unreachable SMTP server as a failed send", async () => {
    const smtp = new SmtpMailer({ host: "127.0.0.1", port: 1, secure: false });
    const n = new Notifications(loadConfig({ BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "a@x.io" }).email, smtp, silentLogger);
    expect(await n.sendTest("cli")).toMatchObject({ sent: false, transport: "smtp", detail: expect.stringMatching(/ECONNREFUSED/) });
  });

  it("delivers through a real SMTP server with the original's SMTP_* settings", async () => {
    const received: { from: string; to: string[]; data: string; user?: string }[] = [];
    const server = new SMTPServer({
      authOptional: false,
      allowInsecureAuth: true,
      disabledCommands: ["STARTTLS"],
      onAuth(auth, _session, cb) {
        cb(null, { user: auth.username === "mailer" && auth.password === "s3cret" ? "mailer" : undefined });
      },
      onData(stream, session, cb) {
        let data = "";
        stream.on("data", (c: Buffer) => (data += c.toString()));
        stream.on("end", () => {
          received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "", to: session.envelope.rcptTo.map((r) => r.address), data, user: session.user as string });
          cb();
        });
      },
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.server.address() as AddressInfo).port;
    try {
      const config = loadConfig({ BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "admin@crm.io", BACKUP_EMAIL_FROM: "backup@crm.io", SMTP_HOST: "127.0.0.1", SMTP_PORT: String(port), SMTP_USER: "mailer", SMTP_PASSWORD: "s3cret" });
      const n = new Notifications(config.email, new SmtpMailer(config.email.smtp), silentLogger);
      await n.forEvent(envelope("backup.succeeded", backupSucceededDetail(manifest, 1000)));
      expect(n.lastResult()).toMatchObject({ ok: true, transport: "smtp" });
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ from: "backup@crm.io", to: ["admin@crm.io"], user: "mailer" });
      expect(received[0]!.data).toMatch(/Subject: \[colab-backup\] daily backup succeeded[\s\S]*text\/plain[\s\S]*text\/html/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it.each([
    ["restore.succeeded", { version: 1, backupId: "daily-20261126T020000Z-abcdef", components: ["database"], actor: "ada@x.io", preRestoreBackupId: "pre-restore-20261126T030000Z-abcdef", durationMs: 10 }, /restore from daily-\S+ succeeded[\s\S]*ada@x.io[\s\S]*pre-restore-/],
    ["restore.rolled-back", { version: 1, backupId: "b1", components: ["uploads", "database"], actor: "ada", error: { code: "restore_failed", message: "database is locked" } }, /FAILED and was rolled back[\s\S]*database is locked/],
    ["restore.failed", { version: 1, backupId: "b1", components: ["uploads"], actor: "ada", error: { code: "restore_failed", message: "ROLLBACK INCOMPLETE" } }, /FAILED[\s\S]*ROLLBACK INCOMPLETE[\s\S]*pre-restore backup/],
    ["cleanup.completed", { version: 1, removed: ["daily-1", "daily-2"], freedBytes: 2048, kept: 40, leftoversRemoved: [] }, /cleanup removed 2 backup[\s\S]*daily-1, daily-2[\s\S]*2.0 KiB[\s\S]*40/],
    ["verify.failed", { version: 1, backupId: "b9", error: "sha mismatch in uploads/x" }, /verification of b9 FAILED[\s\S]*sha mismatch/],
    ["system.initialized", { version: 1, host: "crm-1", schedules: { daily: "0 2 * * *" }, timeZone: "Europe/Berlin", store: "/b" }, /started on crm-1[\s\S]*0 2 \* \* \*[\s\S]*Europe\/Berlin/],
    ["backup.failed", { version: 1, type: "monthly", error: { code: "database_error", message: "WAL on NFS" } }, /monthly backup FAILED[\s\S]*WAL on NFS[\s\S]*What to check/],
  ] as const)("renders %s as an email in text and HTML", async (type, detail, pattern) => {
    const mailer = new Recording();
    const n = new Notifications(loadConfig({ BACKUP_EMAIL_ENABLED: "true", BACKUP_EMAIL_TO: "a@x.io" }).email, mailer, silentLogger);
    await n.forEvent(envelope(type, detail as never));
    const [m] = mailer.sent;
    expect(`${m!.subject}\n${m!.text}`).toMatch(pattern);
    expect(m!.html).toContain("<table");
  });
});
