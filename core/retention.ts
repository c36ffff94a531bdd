// Retention planning: decides which backups to keep or remove (restic-style keep-daily/weekly/monthly); pure, no I/O.
import { ValidationError } from "./errors.ts";
import { BACKUP_TYPES, SCHEDULED_TYPES, type BackupType, type ScheduledType } from "./manifest.ts";

export interface RetentionCandidate {
  id: string;
  type: BackupType;
  /** ISO 8601 with an explicit offset, e.g. "2026-11-30T23:30:00.000Z". */
  createdAt: string;
}

export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
  /** IANA time zone used to decide which calendar day/week/month a backup belongs to. */
  timeZone: string;
}

export interface RetentionDecision {
  id: string;
  type: BackupType;
  createdAt: string;
  reason: string;
}

export interface RetentionPlan {
  /** Newest first. */
  keep: RetentionDecision[];
  /** Newest first. */
  remove: RetentionDecision[];
}

interface Parsed extends RetentionCandidate {
  time: number;
}

const PERIOD_LABEL: Record<ScheduledType, { unit: string; units: string; prep: string }> = {
  daily: { unit: "day", units: "days", prep: "on" },
  weekly: { unit: "week", units: "weeks", prep: "in" },
  monthly: { unit: "month", units: "months", prep: "in" },
};

// Requiring an explicit offset matters: Date.parse reads "2026-11-30T10:00:00" as host-local time,
// which would make the plan depend on the machine it runs on.
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

const DAY_MS = 86_400_000;

export function planRetention(backups: RetentionCandidate[], policy: RetentionPolicy, now: Date): RetentionPlan {
  validatePolicy(policy);
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new ValidationError(`retention "now" must be a valid Date, got ${String(now)}`);
  }
  if (!Array.isArray(backups)) {
    throw new ValidationError(`retention expects an array of backups, got ${typeof backups}`);
  }
  const parsed = parseCandidates(backups);
  const nowMs = now.getTime();
  const localDate = localDateFormatter(policy.timeZone);

  const keep: Array<RetentionDecision & { time: number }> = [];
  const remove: Array<RetentionDecision & { time: number }> = [];
  const decide = (b: Parsed, kept: boolean, reason: string): void => {
    (kept ? keep : remove).push({ id: b.id, type: b.type, createdAt: b.createdAt, reason, time: b.time });
  };

  for (const b of parsed) {
    if (b.type === "manual" || b.type === "pre-restore") {
      decide(b, true, `${b.type} backups are kept until deleted`);
    }
  }

  for (const type of SCHEDULED_TYPES) {
    const limit = policy[type];
    const label = PERIOD_LABEL[type];
    const ofType = parsed.filter((b) => b.type === type).sort(newestFirst);
    // Which backup survives in each period already visited; null when the period fell beyond the limit.
    const keptInPeriod = new Map<string, string | null>();

    for (const b of ofType) {
      if (b.time > nowMs) {
        // A future timestamp most likely means a skewed clock; deleting it (or letting it crowd out
        // a real period) could throw away the freshest good backup.
        const why = `kept because the clock may be skewed, and it does not count toward the ${type} limit`;
        decide(b, true, `created at ${b.createdAt}, after now (${now.toISOString()}); ${why}`);
        continue;
      }
      const key = periodKey(type, localDate(b.time));
      const winner = keptInPeriod.get(key);
      if (winner !== undefined) {
        decide(
          b,
          false,
          winner === null
            ? `older ${type} backup ${label.prep} ${key}; ${type} period ${key} is beyond the newest ${plural(limit, label)} kept`
            : `older ${type} backup ${label.prep} ${key}; kept ${winner} instead`,
        );
        continue;
      }
      const index = keptInPeriod.size + 1;
      if (index <= limit) {
        keptInPeriod.set(key, b.id);
        decide(b, true, `newest ${type} backup of ${key} (period ${index} of ${limit})`);
      } else if (index === 1) {
        // Only reachable with limit 0: a policy typo must not wipe out every backup of a type.
        keptInPeriod.set(key, b.id);
        decide(b, true, `newest ${type} backup (${key}) is always kept, even though ${type} retention is ${limit}`);
      } else {
        keptInPeriod.set(key, null);
        decide(b, false, `${type} period ${key} is beyond the newest ${plural(limit, label)} kept`);
      }
    }
  }

  keep.sort(newestFirst);
  remove.sort(newestFirst);
  return { keep: keep.map(strip), remove: remove.map(strip) };
}

function strip(d: RetentionDecision & { time: number }): RetentionDecision {
  return { id: d.id, type: d.type, createdAt: d.createdAt, reason: d.reason };
}

// JSON.stringify would print NaN as null and undefined as nothing, hiding the actual bad value.
function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

function plural(n: number, label: { unit: string; units: string }): string {
  return `${n} ${n === 1 ? label.unit : label.units}`;
}

// Ties on createdAt fall back to id so the same input always yields the same plan.
function newestFirst(a: { time: number; id: string }, b: { time: number; id: string }): number {
  if (a.time !== b.time) return b.time - a.time;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function validatePolicy(policy: RetentionPolicy): void {
  if (typeof policy !== "object" || policy === null) {
    throw new ValidationError(`retention policy must be an object with daily, weekly, monthly and timeZone, got ${String(policy)}`);
  }
  for (const type of SCHEDULED_TYPES) {
    const n: unknown = policy[type];
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
      throw new ValidationError(
        `retention policy "${type}" must be a non-negative integer (how many ${PERIOD_LABEL[type].units} to keep), got ${show(n)}`,
      );
    }
  }
  const tz: unknown = policy.timeZone;
  let valid = typeof tz === "string" && tz.length > 0;
  if (valid) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz as string });
    } catch {
      valid = false;
    }
  }
  if (!valid) {
    throw new ValidationError(
      `retention policy timeZone ${show(tz)} is not a known IANA time zone; expected e.g. "UTC" or "Europe/Berlin"`,
    );
  }
}

function parseCandidates(backups: RetentionCandidate[]): Parsed[] {
  const seen = new Set<string>();
  return backups.map((b, i) => {
    if (typeof b !== "object" || b === null) {
      throw new ValidationError(`backup #${i} must be an object with id, type and createdAt, got ${String(b)}`);
    }
    if (typeof b.id !== "string" || b.id.length === 0) {
      throw new ValidationError(`backup #${i} has id ${show(b.id)}; expected a non-empty string`);
    }
    // Removal is by id, so a duplicate would make "remove X" ambiguous between two backups.
    if (seen.has(b.id)) {
      throw new ValidationError(`backup id "${b.id}" appears more than once; each backup must have a unique id`);
    }
    seen.add(b.id);
    if (!(BACKUP_TYPES as readonly string[]).includes(b.type)) {
      throw new ValidationError(`backup "${b.id}" has type ${show(b.type)}; expected one of ${BACKUP_TYPES.join(", ")}`);
    }
    return { id: b.id, type: b.type, createdAt: b.createdAt, time: parseIso(b.id, b.createdAt) };
  });
}

function parseIso(id: string, value: unknown): number {
  const fail = (): never => {
    throw new ValidationError(
      `backup "${id}" has createdAt ${show(value)}; expected an ISO 8601 timestamp with an offset, e.g. "2026-11-30T23:30:00.000Z"`,
    );
  };
  if (typeof value !== "string") return fail();
  const m = ISO_RE.exec(value);
  if (!m) return fail();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((p) => (p === undefined ? 0 : Number(p))) as number[];
  // V8 silently rolls "2026-02-30" over to March 2, so calendar validity is checked by hand.
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour! > 23 || minute! > 59 || second! > 59) return fail();
  const time = Date.parse(value);
  return Number.isNaN(time) ? fail() : time;
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

function localDateFormatter(timeZone: string): (time: number) => LocalDate {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone,
    calendar: "gregory",
    numberingSystem: "latn",
    year: "numeric",
    month: "numeric",
    day: "numeric",
  });
  return (time) => {
    const parts: Partial<Record<string, number>> = {};
    for (const p of fmt.formatToParts(time)) {
      if (p.type === "year" || p.type === "month" || p.type === "day") parts[p.type] = Number(p.value);
    }
    return { year: parts.year ?? NaN, month: parts.month ?? NaN, day: parts.day ?? NaN };
  };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

function periodKey(type: ScheduledType, d: LocalDate): string {
  if (type === "daily") return `${pad(d.year, 4)}-${pad(d.month)}-${pad(d.day)}`;
  if (type === "monthly") return `${pad(d.year, 4)}-${pad(d.month)}`;
  const { weekYear, week } = isoWeek(d);
  return `${pad(weekYear, 4)}-W${pad(week)}`;
}

// ISO 8601: weeks start on Monday and week 1 is the one holding the year's first Thursday,
// so the week-year is the calendar year of that week's Thursday.
function isoWeek(d: LocalDate): { weekYear: number; week: number } {
  const date = Date.UTC(d.year, d.month - 1, d.day);
  const mondayBased = (new Date(date).getUTCDay() + 6) % 7;
  const thursday = date + (3 - mondayBased) * DAY_MS;
  const weekYear = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(weekYear, 0, 1)) / (7 * DAY_MS));
  return { weekYear, week };
}
