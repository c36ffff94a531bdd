// The SES mail transport; with the S3 store and the EventBridge bus, one of the three SDK users in core.
// It uses SES's SendEmail (API v1): LocalStack, where every AWS feature here is proven, does not emulate SESv2,
// and v1 SendEmail sends the same HTML-and-text message on AWS.
import { SESClient, SendEmailCommand } from "@aws-sdk/client-ses";
import type { EmailMessage, Mailer } from "./mailer.ts";

export interface SesMailerOptions {
  region: string;
  /** A custom endpoint (LocalStack); unset on AWS. */
  endpoint?: string;
  /** SES configuration set, for delivery events (infra sets BACKUP_SES_CONFIGURATION_SET). */
  configurationSet?: string;
  client?: SESClient;
}

export class SesMailer implements Mailer {
  readonly transport = "ses";
  private readonly client: SESClient;

  constructor(private readonly options: SesMailerOptions) {
    this.client = options.client ?? new SESClient({ region: options.region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  }

  async send(message: EmailMessage) {
    const out = await this.client.send(
      new SendEmailCommand({
        Source: message.from,
        Destination: { ToAddresses: message.to },
        Message: {
          Subject: { Data: message.subject, Charset: "UTF-8" },
          Body: { Text: { Data: message.text, Charset: "UTF-8" }, Html: { Data: message.html, Charset: "UTF-8" } },
        },
        ...(this.options.configurationSet ? { ConfigurationSetName: this.options.configurationSet } : {}),
      }),
    );
    return { messageId: out.MessageId ?? "", detail: `accepted by SES as ${out.MessageId ?? "?"}` };
  }
}
