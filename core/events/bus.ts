// The event bus interface and its in-process implementation (the local runtime's EventBridge).
import { randomUUID } from "node:crypto";
import type { Logger } from "../engine.ts";
import { errorMessage } from "../errors.ts";
import { matches, type EventPattern } from "./patterns.ts";
import { EVENT_SOURCE, EventDetailSchemas, type BusEvent, type EventDetail, type EventType } from "./schema.ts";

export interface EventBus {
  /** Validates the detail against its schema, then publishes; rejects if the bus refuses the event. */
  publish<T extends EventType>(type: T, detail: EventDetail<T>): Promise<void>;
}

export function envelope<T extends EventType>(type: T, detail: EventDetail<T>): BusEvent<T> {
  return { id: randomUUID(), source: EVENT_SOURCE, "detail-type": type, time: new Date().toISOString(), detail: EventDetailSchemas[type].parse(detail) as EventDetail<T> };
}

/** Delivers to matching subscribers in this process; a failing handler is logged, never thrown at the publisher. */
export class InProcessBus implements EventBus {
  private readonly subs: { pattern: EventPattern; handler: (e: BusEvent) => Promise<void> | void }[] = [];
  private pending = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  subscribe(pattern: EventPattern, handler: (e: BusEvent) => Promise<void> | void): void {
    this.subs.push({ pattern, handler });
  }

  async publish<T extends EventType>(type: T, detail: EventDetail<T>): Promise<void> {
    const event = envelope(type, detail) as BusEvent;
    for (const { pattern, handler } of this.subs) {
      if (!matches(pattern, event)) continue;
      const delivery = Promise.resolve()
        .then(() => handler(event))
        .catch((err) => this.log.error("event handler failed", { type, error: errorMessage(err) }))
        .finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  /** Resolves once every delivery so far has been handled (shutdown and tests). */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}
