// The EventBridge bus (PutEvents); with the S3 store and the SES mailer, one of the three SDK users in core.
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { BackupError } from "../errors.ts";
import { envelope, type EventBus } from "./bus.ts";
import type { EventDetail, EventType } from "./schema.ts";

export interface EventBridgeBusOptions {
  busName: string;
  region: string;
  endpoint?: string;
  client?: EventBridgeClient;
}

export class EventBridgeBus implements EventBus {
  private readonly client: EventBridgeClient;

  constructor(private readonly options: EventBridgeBusOptions) {
    this.client = options.client ?? new EventBridgeClient({ region: options.region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  }

  async publish<T extends EventType>(type: T, detail: EventDetail<T>): Promise<void> {
    const e = envelope(type, detail);
    const out = await this.client.send(
      new PutEventsCommand({ Entries: [{ EventBusName: this.options.busName, Source: e.source, DetailType: type, Detail: JSON.stringify(e.detail), Time: new Date(e.time) }] }),
    );
    // PutEvents answers 200 even when an entry was refused; the refusal is per entry.
    if (out.FailedEntryCount) {
      const entry = out.Entries?.[0];
      throw new BackupError(`publish ${type}: EventBridge refused the event (${entry?.ErrorCode ?? "?"}: ${entry?.ErrorMessage ?? "no message"})`);
    }
  }
}
