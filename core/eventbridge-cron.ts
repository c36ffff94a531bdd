// Unix cron (5 fields) into EventBridge cron (6 fields, "?" in one day field, SUN=1) plus the time zone for EventBridge Scheduler.
import { parseCron } from "./cron.ts";
import { ConfigError } from "./errors.ts";

/** What infra needs to create one schedule. */
export interface EventBridgeCron {
  /** e.g. "cron(0 2 * * ? *)": minute hour day-of-month month day-of-week year. */
  expression: `cron(${string})`;
  /**
   * The IANA zone the expression is meant in, for EventBridge Scheduler's `scheduleExpressionTimezone`
   * (sst.aws.CronV2 `timezone`). EventBridge *rules* evaluate cron in UTC only and ignore it:
   * translate with timeZone "UTC" for a rule, or use Scheduler (infra does).
   */
  timezone: string;
}

export interface TranslateOptions {
  /** The variable the expression came from, named in errors (e.g. "BACKUP_WEEKLY_SCHEDULE"). */
  name?: string;
}

const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/**
 * Translates a 5-field Unix cron expression (as accepted by parseCron) into an EventBridge cron expression
 * meant in `timeZone`.
 *
 * - Day of week: Unix 0 or 7 = Sunday ... 6 = Saturday becomes EventBridge 1 = SUN ... 7 = SAT. Lists, ranges,
 *   names and steps are expanded to the days they mean and written back as EventBridge numbers
 *   (EventBridge has no "/" in day-of-week, and a range across Saturday-Sunday would wrap).
 * - Exactly one of day-of-month and day-of-week becomes "?". When Unix cron restricts both, it runs when
 *   EITHER matches; EventBridge cannot say that, so this throws (rather than silently splitting the
 *   schedule in two): restrict one field, or configure two schedules.
 * - Steps: "*\/n" becomes "0/n" (minute, hour) or "1/n" (day, month), as in AWS's documentation; a step over a
 *   range ("1-10/3") is written out as a list.
 * - Throws ConfigError naming the variable and saying what to write instead.
 */
export function toEventBridgeCron(unixCron: string, timeZone = "UTC", options: TranslateOptions = {}): EventBridgeCron {
  const what = options.name ? `${options.name} "${unixCron}"` : `"${unixCron}"`;
  const fail = (cause: string): never => {
    throw new ConfigError(`translate ${what} to EventBridge cron: ${cause}`);
  };

  let normalized: string;
  try {
    normalized = parseCron(unixCron);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (!isTimeZone(timeZone)) fail(`time zone "${timeZone}" is not an IANA zone such as "UTC" or "Europe/Berlin" (check TZ)`);

  const [minute, hour, dom, month, dow] = normalized.toUpperCase().split(" ") as [string, string, string, string, string];
  const domRestricted = !isWildcard(dom);
  const dowRestricted = !isWildcard(dow);
  if (domRestricted && dowRestricted) {
    const both = `it restricts both day-of-month ("${dom}") and day-of-week ("${dow}")`;
    const only = `"${minute} ${hour} ${dom} ${month} *" or "${minute} ${hour} * ${month} ${dow.replace(/^\+/, "")}"`;
    if (dow.startsWith("+")) {
      fail(`${both} and "+" asks for days matching BOTH; EventBridge cron needs one of them to be "?". Restrict only one, e.g. ${only}`);
    }
    fail(
      `${both}; Unix cron runs when EITHER matches, and EventBridge cron cannot express that (one of the two must be "?"). ` +
        `Restrict only one, e.g. ${only}, or run two schedules`,
    );
  }

  const fields = [
    translateTimeField(minute, "minute", 0, 59, fail),
    translateTimeField(hour, "hour", 0, 23, fail),
    domRestricted ? translateDayOfMonth(dom, fail) : dowRestricted ? "?" : "*",
    translateMonth(month, fail),
    dowRestricted ? translateDayOfWeek(dow, fail) : "?",
    "*",
  ];
  return { expression: `cron(${fields.join(" ")})`, timezone: timeZone };
}

type Fail = (cause: string) => never;

const isWildcard = (field: string) => field === "*" || field === "?";

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Minute and hour: EventBridge takes the same `, - * /` syntax; only wildcards and steps are normalised. */
function translateTimeField(field: string, label: string, min: number, max: number, fail: Fail): string {
  if (isWildcard(field)) return "*";
  return field
    .split(",")
    .map((item) => translateNumericItem(item, label, min, max, min, (v) => toInt(v, label, fail), fail))
    .join(",");
}

function translateMonth(field: string, fail: Fail): string {
  if (isWildcard(field)) return "*";
  const value = (token: string) => {
    const i = MONTH_NAMES.indexOf(token);
    return i >= 0 ? i + 1 : toInt(token, "month", fail);
  };
  return field
    .split(",")
    .map((item) => translateNumericItem(item, "month", 1, 12, 1, value, fail))
    .join(",");
}

function translateDayOfMonth(field: string, fail: Fail): string {
  const items = field.split(",");
  const special = items.filter((i) => /[LW]/.test(i));
  if (special.length) {
    // EventBridge accepts L (last day), LW (last weekday) and nW (weekday nearest the nth) only on their own.
    if (items.length > 1) fail(`day-of-month "${field}": EventBridge allows L and W only on their own, not in a list`);
    if (!/^(L|LW|\d{1,2}W)$/.test(field)) fail(`day-of-month "${field}": EventBridge supports L, LW and nW (e.g. 15W) only`);
    return field;
  }
  return items.map((item) => translateNumericItem(item, "day-of-month", 1, 31, 1, (v) => toInt(v, "day-of-month", fail), fail)).join(",");
}

/** One list item of a numeric field: n, a-b, *\/s, n/s or a-b/s. */
function translateNumericItem(
  item: string,
  label: string,
  min: number,
  max: number,
  stepStart: number,
  value: (token: string) => number,
  fail: Fail,
): string {
  const [range = "", stepText, extra] = item.split("/");
  if (extra !== undefined) fail(`${label} "${item}" has more than one "/"`);
  if (stepText === undefined) {
    if (range.includes("-")) {
      const [a, b] = rangeBounds(range, label, value, fail);
      return `${a}-${b}`;
    }
    return String(value(range));
  }
  const step = toInt(stepText, `${label} step`, fail);
  if (step < 1) fail(`${label} step in "${item}" must be at least 1`);
  if (isWildcard(range)) return `${stepStart}/${step}`;
  if (!range.includes("-")) return `${value(range)}/${step}`;
  // EventBridge documents "start/step" only: write a stepped range out as the values it means.
  const [a, b] = rangeBounds(range, label, value, fail);
  const out: number[] = [];
  for (let v = a; v <= b && v <= max; v += step) if (v >= min) out.push(v);
  return out.join(",");
}

function rangeBounds(range: string, label: string, value: (token: string) => number, fail: Fail): [number, number] {
  const [a = "", b = ""] = range.split("-");
  const lo = value(a);
  const hi = value(b);
  if (lo > hi) fail(`${label} range "${range}" runs backwards`);
  return [lo, hi];
}

function toInt(token: string, label: string, fail: Fail): number {
  if (!/^\d+$/.test(token)) fail(`${label} "${token}" is not a number`);
  return Number(token);
}

/** Unix day-of-week (0/7 = SUN, names, lists, ranges, steps, n#k, n#L, nL) into EventBridge's 1 = SUN ... 7 = SAT. */
function translateDayOfWeek(field: string, fail: Fail): string {
  if (field.startsWith("+")) {
    // croner's "+" means day-of-month AND day-of-week; with day-of-month "*" that is just the weekdays.
    return translateDayOfWeek(field.slice(1), fail);
  }
  const day = (token: string, rangeEnd = false): number => {
    const i = DAY_NAMES.indexOf(token);
    const n = i >= 0 ? i : toInt(token, "day-of-week", fail);
    if (n > 7) fail(`day-of-week "${token}" is out of range (0-7, SUN-SAT)`);
    // Sunday ends a range as 7 ("FRI-SUN"), starts one as 0.
    return n === 0 && rangeEnd ? 7 : n;
  };
  const eb = (unix: number) => (unix % 7) + 1;

  const items = field.split(",");
  const nth = items.filter((i) => /[#L]/.test(i));
  if (nth.length) {
    if (items.length > 1) fail(`day-of-week "${field}": EventBridge allows # and L only on their own, not in a list`);
    const last = /^(\w+?)(?:#L|L)$/.exec(field);
    if (last) return `${eb(day(last[1]!))}L`;
    const hash = /^(\w+)#([1-5])$/.exec(field);
    if (hash) return `${eb(day(hash[1]!))}#${hash[2]}`;
    fail(`day-of-week "${field}": EventBridge supports n#k (k-th weekday of the month, k 1-5) and nL (last weekday) only`);
  }

  const days = new Set<number>();
  for (const item of items) {
    const [range = "", stepText] = item.split("/");
    const step = stepText === undefined ? 1 : toInt(stepText, "day-of-week step", fail);
    if (step < 1) fail(`day-of-week step in "${item}" must be at least 1`);
    let lo: number;
    let hi: number;
    if (isWildcard(range)) [lo, hi] = [0, 6];
    else if (range.includes("-")) {
      const [a = "", b = ""] = range.split("-");
      [lo, hi] = [day(a), day(b, true)];
      if (lo > hi) fail(`day-of-week range "${range}" runs backwards; EventBridge ranges do not wrap, list the days instead (e.g. "5,6,0")`);
    } else {
      lo = day(range);
      hi = stepText === undefined ? lo : 6;
    }
    for (let d = lo; d <= hi; d += step) days.add(d % 7);
  }
  return compact([...days].map(eb).sort((a, b) => a - b));
}

/** Sorted numbers as an EventBridge list, runs of three or more as ranges: [1, 2, 3, 4, 7] -> "1-4,7". */
function compact(values: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${values[i]}-${values[j]}`);
    else for (let k = i; k <= j; k++) parts.push(String(values[k]));
    i = j + 1;
  }
  return parts.join(",");
}
