// The SES mail transport (SESv2 SendEmail); with the S3 store and the EventBridge bus, one of the three SDK users in core.
import { SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import type { EmailMessage, Mailer } from "./mailer.ts";

export interface SesMailerOptions {
  region: string;
  /** A custom endpoint (LocalStack); unset on AWS. */
  endpoint?: string;
  client?: SESv2Client;
}

export class SesMailer implements Mailer {
  readonly transport = "ses";
  private readonly client: SESv2Client;

  constructor(options: SesMailerOptions) {
    this.client = options.client ?? new SESv2Client({ region: options.region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  }

  async send(message: EmailMessage) {
    const out = await this.client.send(
      new SendEmailCommand({
        FromEmailAddress: message.from,
        Destination: { ToAddresses: message.to },
        Content: {
          Simple: {
            Subject: { Data: message.subject, Charset: "UTF-8" },
            Body: { Text: { Data: message.text, Charset: "UTF-8" }, Html: { Data: message.html, Charset: "UTF-8" } },
          },
        },
      }),
    );
    return { messageId: out.MessageId ?? "", detail: `accepted by SES as ${out.MessageId ?? "?"}` };
  }
}
