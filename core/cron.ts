// Unix cron expressions: validation and next-run computation in a time zone (croner does the calendar work).
import { Cron } from "croner";

/** Validates a 5-field Unix cron expression ("m h dom mon dow"); throws Error saying what is wrong. */
export function parseCron(expr: string): string {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new Error(`expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length} in "${expr}"`);
  }
  try {
    new Cron(fields.join(" "), { paused: true });
  } catch (err) {
    throw new Error(`"${expr}" is not valid: ${(err as Error).message.replace(/^CronPattern: /, "")}`);
  }
  return fields.join(" ");
}

/** The next time `expr` fires after `from`, evaluated in `timeZone`; null if it never fires again. */
export function nextRun(expr: string, timeZone: string, from: Date = new Date()): Date | null {
  return new Cron(parseCron(expr), { paused: true, timezone: timeZone }).nextRun(from);
}
