// Mail transports behind one interface: a local outbox of .eml files (the default) and SMTP, both through nodemailer.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import type { Config } from "../config.ts";

export interface EmailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** "outbox", "smtp" or "ses". */
  readonly transport: string;
  /** Resolves with an id for the message; rejects with the transport's error. */
  send(message: EmailMessage): Promise<{ messageId: string; detail: string }>;
}

/** Writes each message as an .eml file: mail you can open, without a mail server. */
export class OutboxMailer implements Mailer {
  readonly transport = "outbox";
  private readonly composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  constructor(readonly dir: string) {}

  async send(message: EmailMessage) {
    const info = await this.composer.sendMail({ ...message, to: message.to.join(", ") });
    await mkdir(this.dir, { recursive: true });
    const slug = message.subject.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
    const file = path.join(this.dir, `${new Date().toISOString().replace(/[:.]/g, "-")}-${slug}.eml`);
    await writeFile(file, info.message as Buffer);
    return { messageId: info.messageId, detail: `written to ${file}` };
  }
}

export class SmtpMailer implements Mailer {
  readonly transport = "smtp";
  private readonly client;
  constructor(smtp: Config["email"]["smtp"]) {
    this.client = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? "" } } : {}),
      // A dead server must not hold a job for minutes.
      connectionTimeout: 15_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  async send(message: EmailMessage) {
    const info = await this.client.sendMail({ ...message, to: message.to.join(", ") });
    return { messageId: info.messageId, detail: `accepted by ${info.accepted.length} recipient(s): ${String(info.response ?? "")}`.trim() };
  }
}

/** The local transports; SES is built where AWS deps are (it needs the SDK client). */
export function localMailer(config: Config): Mailer {
  return config.email.transport === "smtp" ? new SmtpMailer(config.email.smtp) : new OutboxMailer(path.join(config.backupDir, "outbox"));
}
