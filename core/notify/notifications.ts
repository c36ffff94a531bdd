// Sends the notification emails: follows BACKUP_EMAIL_ENABLED, never throws into a backup, and remembers the last result.
import type { Config } from "../config.ts";
import type { Logger } from "../engine.ts";
import { errorMessage } from "../errors.ts";
import type { BusEvent } from "../events/schema.ts";
import type { Mailer } from "./mailer.ts";
import * as templates from "./templates.ts";

export interface SendResult {
  at: string;
  ok: boolean;
  subject: string;
  transport: string;
  detail: string;
}

export class Notifications {
  private last: SendResult | null = null;

  constructor(
    private readonly config: Config["email"],
    private readonly mailer: Mailer,
    private readonly log: Logger,
    /** Where each send result is also kept, so another process can report it (best effort). */
    private readonly onResult?: (r: SendResult) => Promise<void>,
  ) {}

  get enabled(): boolean {
    return this.config.enabled;
  }

  get transport(): string {
    return this.mailer.transport;
  }

  lastResult(): SendResult | null {
    return this.last;
  }

  /** The email for a lifecycle event; the notifier function and the local bus both call this. */
  forEvent(event: BusEvent): Promise<SendResult | null> {
    return this.deliver(renderEvent(event));
  }
  backupFailed(type: string, error: string) {
    return this.deliver(templates.backupFailed(type, error, new Date()));
  }
  criticalError(context: string, err: unknown) {
    return this.deliver(templates.criticalError(context, errorMessage(err)));
  }

  /** Sends even when notifications are disabled: it is how an admin checks the settings before enabling them. */
  async sendTest(actor: string): Promise<{ sent: boolean; transport: string; detail: string }> {
    const r = await this.deliver(templates.testEmail(actor, this.mailer.transport), true);
    return { sent: r?.ok ?? false, transport: this.mailer.transport, detail: r?.detail ?? "not sent" };
  }

  /** Never rejects: a mail problem is logged and shows in status, it does not fail the operation that triggered it. */
  private async deliver(message: templates.Rendered, force = false): Promise<SendResult | null> {
    if (!this.config.enabled && !force) return null;
    const to = this.recipients();
    if (to.length === 0) {
      return this.record({ ok: false, subject: message.subject, detail: "no recipients: set BACKUP_EMAIL_TO" });
    }
    try {
      const info = await this.mailer.send({ ...message, from: this.config.from ?? "colab-backup@localhost", to });
      this.log.info("email sent", { subject: message.subject, transport: this.mailer.transport });
      return this.record({ ok: true, subject: message.subject, detail: info.detail });
    } catch (err) {
      this.log.error("email failed", { subject: message.subject, transport: this.mailer.transport, error: errorMessage(err) });
      return this.record({ ok: false, subject: message.subject, detail: `send failed: ${errorMessage(err)}` });
    }
  }

  private recipients(): string[] {
    const list = (this.config.to ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    // The outbox is local, so a test can land somewhere readable before any address is configured.
    if (list.length === 0 && this.mailer.transport === "outbox") return ["admin@localhost"];
    return list;
  }

  private async record(r: Omit<SendResult, "at" | "transport">): Promise<SendResult> {
    const result = { at: new Date().toISOString(), transport: this.mailer.transport, ...r };
    this.last = result;
    await this.onResult?.(result).catch((err) => this.log.warn("could not store the email result", { error: errorMessage(err) }));
    return result;
  }
}

function renderEvent(e: BusEvent): templates.Rendered {
  switch (e["detail-type"]) {
    case "backup.succeeded":
      return templates.backupSucceeded(e.detail as BusEvent<"backup.succeeded">["detail"]);
    case "backup.failed": {
      const d = e.detail as BusEvent<"backup.failed">["detail"];
      return templates.backupFailed(d.type, d.error.message, new Date(e.time || Date.now()));
    }
    case "restore.succeeded":
      return templates.restoreFinished("succeeded", e.detail as BusEvent<"restore.succeeded">["detail"]);
    case "restore.failed":
    case "restore.rolled-back": {
      const d = e.detail as BusEvent<"restore.failed">["detail"];
      return templates.restoreFinished(e["detail-type"] === "restore.failed" ? "failed" : "rolled-back", { ...d, error: d.error.message });
    }
    case "cleanup.completed":
      return templates.cleanupCompleted(e.detail as BusEvent<"cleanup.completed">["detail"]);
    case "verify.failed":
      return templates.verifyFailed(e.detail as BusEvent<"verify.failed">["detail"]);
    case "system.initialized":
      return templates.systemInitialized(e.detail as BusEvent<"system.initialized">["detail"]);
    default:
      return templates.criticalError(`unexpected event ${e["detail-type"]}`, JSON.stringify(e.detail));
  }
}
