// Tests for the retention planner: period bucketing per time zone, limits, protections, validation and the partition property.
import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.ts";
import { BACKUP_TYPES, type BackupType } from "./manifest.ts";
import { planRetention, type RetentionCandidate, type RetentionPlan, type RetentionPolicy } from "./retention.ts";

const NOW = new Date("2027-06-01T00:00:00Z");
const policy = (p: Partial<RetentionPolicy> = {}): RetentionPolicy => ({ daily: 7, weekly: 4, monthly: 12, timeZone: "UTC", ...p });
const b = (id: string, createdAt: string, type: BackupType = "daily"): RetentionCandidate => ({ id, type, createdAt });
const ids = (plan: RetentionPlan) => ({ keep: plan.keep.map((d) => d.id), remove: plan.remove.map((d) => d.id) });
const reasonOf = (plan: RetentionPlan, id: string) => [...plan.keep, ...plan.remove].find((d) => d.id === id)?.reason;

interface Case {
  name: string;
  backups: RetentionCandidate[];
  policy?: Partial<RetentionPolicy>;
  now?: Date;
  keep: string[];
  remove: string[];
  reasons?: Record<string, string | RegExp>;
}

function runCases(cases: Case[]): void {
  it.each(cases)("$name", (c) => {
    const plan = planRetention(c.backups, policy(c.policy), c.now ?? NOW);
    expect(ids(plan)).toEqual({ keep: c.keep, remove: c.remove });
    for (const [id, reason] of Object.entries(c.reasons ?? {})) {
      if (typeof reason === "string") expect(reasonOf(plan, id)).toBe(reason);
      else expect(reasonOf(plan, id)).toMatch(reason);
    }
  });
}

const days = (prefix: string, from: number, to: number, month = "2026-11", type: BackupType = "daily") =>
  Array.from({ length: to - from + 1 }, (_, i) => b(`${prefix}${from + i}`, `${month}-${String(from + i).padStart(2, "0")}T02:00:00Z`, type));

describe("counts per type", () => {
  runCases([
    {
      name: "daily=3 keeps the newest three days",
      backups: days("d", 21, 30),
      policy: { daily: 3 },
      keep: ["d30", "d29", "d28"], remove: ["d27", "d26", "d25", "d24", "d23", "d22", "d21"],
      reasons: {
        d29: "newest daily backup of 2026-11-29 (period 2 of 3)",
        d27: "daily period 2026-11-27 is beyond the newest 3 days kept",
      },
    },
    {
      name: "weekly=2 keeps the newest two ISO weeks",
      backups: [b("w1", "2026-11-02T03:00:00Z", "weekly"), b("w2", "2026-11-09T03:00:00Z", "weekly"), b("w3", "2026-11-16T03:00:00Z", "weekly")],
      policy: { weekly: 2 },
      keep: ["w3", "w2"], remove: ["w1"],
      reasons: { w3: "newest weekly backup of 2026-W47 (period 1 of 2)", w1: "weekly period 2026-W45 is beyond the newest 2 weeks kept" },
    },
    {
      name: "monthly=1 keeps only the newest month",
      backups: [b("m9", "2026-09-01T04:00:00Z", "monthly"), b("m10", "2026-10-01T04:00:00Z", "monthly"), b("m11", "2026-11-01T04:00:00Z", "monthly")],
      policy: { monthly: 1 },
      keep: ["m11"], remove: ["m10", "m9"],
      reasons: { m9: "monthly period 2026-09 is beyond the newest 1 month kept" },
    },
    {
      name: "each type uses its own limit and output is sorted newest first across types",
      backups: [...days("d", 28, 30), b("w", "2026-11-29T12:00:00Z", "weekly"), b("m", "2026-10-15T00:00:00Z", "monthly"), b("m2", "2026-09-15T00:00:00Z", "monthly")],
      policy: { daily: 2, weekly: 1, monthly: 5 },
      keep: ["d30", "w", "d29", "m", "m2"], remove: ["d28"],
    },
    {
      name: "several backups in one local day: only the newest is kept",
      backups: [b("early", "2026-11-25T01:00:00Z"), b("late", "2026-11-25T23:00:00Z"), b("mid", "2026-11-25T09:00:00Z"), b("prev", "2026-11-24T23:59:59Z")],
      keep: ["late", "prev"], remove: ["mid", "early"],
      reasons: { mid: "older daily backup on 2026-11-25; kept late instead", late: "newest daily backup of 2026-11-25 (period 1 of 7)" },
    },
    {
      name: "identical createdAt: the smaller id wins regardless of input order",
      backups: [b("zz", "2026-11-25T10:00:00Z"), b("aa", "2026-11-25T10:00:00Z")],
      keep: ["aa"], remove: ["zz"],
    },
  ]);
});

describe("time zone edges", () => {
  // 23:30 UTC on Nov 30 is 00:30 Dec 1 in Berlin but 18:30 Nov 30 in New York.
  const edge = (type: BackupType) => [b("late", "2026-11-30T23:30:00Z", type), b("noon", "2026-11-30T12:00:00Z", type)];
  runCases([
    { name: "daily, Europe/Berlin: two local days", backups: edge("daily"), policy: { timeZone: "Europe/Berlin" }, keep: ["late", "noon"], remove: [], reasons: { late: /of 2026-12-01 / } },
    { name: "daily, America/New_York: one local day", backups: edge("daily"), policy: { timeZone: "America/New_York" }, keep: ["late"], remove: ["noon"], reasons: { late: /of 2026-11-30 / } },
    { name: "daily, UTC: one day", backups: edge("daily"), keep: ["late"], remove: ["noon"] },
    { name: "monthly, Europe/Berlin: two local months", backups: edge("monthly"), policy: { timeZone: "Europe/Berlin" }, keep: ["late", "noon"], remove: [], reasons: { late: /of 2026-12 /, noon: /of 2026-11 / } },
    { name: "monthly, America/New_York: one local month", backups: edge("monthly"), policy: { timeZone: "America/New_York" }, keep: ["late"], remove: ["noon"], reasons: { noon: "older monthly backup in 2026-11; kept late instead" } },
    { name: "half-hour offset, Asia/Kolkata: 18:45 UTC is already tomorrow", backups: [b("a", "2026-11-30T18:45:00Z"), b("b", "2026-11-30T18:15:00Z")], policy: { timeZone: "Asia/Kolkata" }, keep: ["a", "b"], remove: [] },
  ]);
});

describe("DST transition days", () => {
  runCases([
    {
      // Oct 25 2026 in Berlin lasts 25 hours: 2026-10-24T22:00Z .. 2026-10-25T23:00Z, with 02:00-03:00 twice.
      name: "Europe/Berlin, last Sunday of October (25-hour day)",
      backups: [
        b("oct24-2359", "2026-10-24T21:59:00Z"), b("oct25-0000", "2026-10-24T22:00:00Z"), b("cest-0230", "2026-10-25T00:30:00Z"),
        b("cet-0230", "2026-10-25T01:30:00Z"), b("oct25-2359", "2026-10-25T22:59:00Z"), b("oct26-0000", "2026-10-25T23:00:00Z"),
      ],
      policy: { timeZone: "Europe/Berlin" },
      keep: ["oct26-0000", "oct25-2359", "oct24-2359"], remove: ["cet-0230", "cest-0230", "oct25-0000"],
      reasons: { "cest-0230": "older daily backup on 2026-10-25; kept oct25-2359 instead" },
    },
    {
      name: "Europe/Berlin weekly: Sunday 23:59 CET and Monday 00:00 CET are different ISO weeks",
      backups: [b("sun", "2026-10-25T22:59:00Z", "weekly"), b("mon", "2026-10-25T23:00:00Z", "weekly")],
      policy: { timeZone: "Europe/Berlin" },
      keep: ["mon", "sun"], remove: [],
      reasons: { mon: /of 2026-W44 /, sun: /of 2026-W43 / },
    },
    {
      name: "UTC weekly: the same two instants fall in one week",
      backups: [b("sun", "2026-10-25T22:59:00Z", "weekly"), b("mon", "2026-10-25T23:00:00Z", "weekly")],
      keep: ["mon"], remove: ["sun"],
    },
    {
      // Mar 8 2026 in New York lasts 23 hours: 2026-03-08T05:00Z .. 2026-03-09T04:00Z.
      name: "America/New_York, second Sunday of March (23-hour day)",
      backups: [
        b("mar7-2359", "2026-03-08T04:59:00Z"), b("mar8-0000", "2026-03-08T05:00:00Z"), b("est-0159", "2026-03-08T06:59:00Z"),
        b("edt-0300", "2026-03-08T07:00:00Z"), b("mar8-2359", "2026-03-09T03:59:00Z"), b("mar9-0000", "2026-03-09T04:00:00Z"),
      ],
      policy: { timeZone: "America/New_York" },
      keep: ["mar9-0000", "mar8-2359", "mar7-2359"], remove: ["edt-0300", "est-0159", "mar8-0000"],
      reasons: { "mar9-0000": /of 2026-03-09 /, "mar7-2359": /of 2026-03-07 / },
    },
  ]);
});

describe("month-end edges", () => {
  runCases([
    {
      name: "Jan 31 -> Feb 28 -> Mar 1 (2027, not a leap year)",
      backups: [b("jan31", "2027-01-31T12:00:00Z", "monthly"), b("feb01", "2027-02-01T00:00:00Z", "monthly"), b("feb28", "2027-02-28T23:59:59Z", "monthly"), b("mar01", "2027-03-01T00:00:00Z", "monthly")],
      keep: ["mar01", "feb28", "jan31"], remove: ["feb01"],
      reasons: { feb01: "older monthly backup in 2027-02; kept feb28 instead" },
    },
    {
      name: "leap day 2028-02-29 is its own day and belongs to February",
      backups: [b("feb28", "2028-02-28T12:00:00Z"), b("feb29", "2028-02-29T12:00:00Z"), b("mar01", "2028-03-01T12:00:00Z")],
      now: new Date("2028-03-02T00:00:00Z"),
      keep: ["mar01", "feb29", "feb28"], remove: [],
      reasons: { feb29: "newest daily backup of 2028-02-29 (period 2 of 7)" },
    },
    {
      name: "leap year monthly: Feb 29 beats Feb 28",
      backups: [b("feb28", "2028-02-28T12:00:00Z", "monthly"), b("feb29", "2028-02-29T12:00:00Z", "monthly"), b("mar01", "2028-03-01T12:00:00Z", "monthly")],
      now: new Date("2028-03-02T00:00:00Z"),
      keep: ["mar01", "feb29"], remove: ["feb28"],
    },
    {
      name: "Dec 31 -> Jan 1 across years, monthly=1",
      backups: [b("dec31", "2026-12-31T23:59:59Z", "monthly"), b("jan01", "2027-01-01T00:00:00Z", "monthly")],
      policy: { monthly: 1 },
      keep: ["jan01"], remove: ["dec31"],
      reasons: { dec31: "monthly period 2026-12 is beyond the newest 1 month kept", jan01: "newest monthly backup of 2027-01 (period 1 of 1)" },
    },
    {
      name: "Dec 31 23:30 UTC is already January in Europe/Berlin",
      backups: [b("dec31", "2026-12-31T23:30:00Z", "monthly"), b("jan01", "2027-01-01T10:00:00Z", "monthly")],
      policy: { timeZone: "Europe/Berlin" },
      keep: ["jan01"], remove: ["dec31"],
      reasons: { dec31: "older monthly backup in 2027-01; kept jan01 instead" },
    },
  ]);
});

describe("ISO week-year edges", () => {
  it.each([
    ["2025-12-28T12:00:00Z", "UTC", "2025-W52"],
    ["2025-12-29T12:00:00Z", "UTC", "2026-W01"],
    ["2026-01-01T12:00:00Z", "UTC", "2026-W01"],
    ["2026-12-28T12:00:00Z", "UTC", "2026-W53"],
    ["2027-01-01T12:00:00Z", "UTC", "2026-W53"],
    ["2027-01-03T12:00:00Z", "UTC", "2026-W53"],
    ["2027-01-04T12:00:00Z", "UTC", "2027-W01"],
    ["2027-01-03T23:30:00Z", "UTC", "2026-W53"],
    ["2027-01-03T23:30:00Z", "Europe/Berlin", "2027-W01"],
    ["2021-01-03T12:00:00Z", "UTC", "2020-W53"],
    ["2024-12-30T12:00:00Z", "UTC", "2025-W01"],
  ])("%s in %s is in %s", (createdAt, timeZone, week) => {
    const plan = planRetention([b("w", createdAt, "weekly")], policy({ timeZone }), NOW);
    expect(plan.keep[0]?.reason).toBe(`newest weekly backup of ${week} (period 1 of 4)`);
  });

  runCases([
    {
      name: "2026-12-28..2027-01-03 is one week (2026-W53)",
      backups: [b("dec27", "2026-12-27T12:00:00Z", "weekly"), ...days("d", 28, 31, "2026-12", "weekly"), ...days("j", 1, 4, "2027-01", "weekly")],
      policy: { weekly: 10 },
      keep: ["j4", "j3", "dec27"], remove: ["j2", "j1", "d31", "d30", "d29", "d28"],
      reasons: { j3: "newest weekly backup of 2026-W53 (period 2 of 10)", d28: "older weekly backup in 2026-W53; kept j3 instead" },
    },
  ]);
});

describe("protections", () => {
  const now = new Date("2026-11-30T12:00:00Z");
  runCases([
    {
      name: "daily=0 still keeps the newest daily backup",
      backups: [b("d1", "2026-11-28T10:00:00Z"), b("d2", "2026-11-29T10:00:00Z"), b("d3", "2026-11-29T08:00:00Z")],
      policy: { daily: 0 },
      now,
      keep: ["d2"], remove: ["d3", "d1"],
      reasons: {
        d2: "newest daily backup (2026-11-29) is always kept, even though daily retention is 0",
        d3: "older daily backup on 2026-11-29; kept d2 instead",
        d1: "daily period 2026-11-28 is beyond the newest 0 days kept",
      },
    },
    {
      name: "all limits 0 keep one backup per scheduled type",
      backups: [...days("d", 1, 3), ...days("w", 1, 3, "2026-10", "weekly"), ...days("m", 1, 3, "2026-09", "monthly")],
      policy: { daily: 0, weekly: 0, monthly: 0 },
      now,
      keep: ["d3", "w3", "m3"], remove: ["d2", "d1", "w2", "w1", "m2", "m1"],
    },
    {
      name: "future-dated backups are kept and do not use a period slot",
      backups: [b("f2", "2026-12-02T00:00:00Z"), b("f1", "2026-11-30T13:00:00Z"), b("at-now", "2026-11-30T12:00:00Z"), b("p1", "2026-11-29T11:00:00Z"), b("p2", "2026-11-28T11:00:00Z")],
      policy: { daily: 2 },
      now,
      keep: ["f2", "f1", "at-now", "p1"], remove: ["p2"],
      reasons: { f2: /after now \(2026-11-30T12:00:00\.000Z\); kept because the clock may be skewed/, "at-now": /period 1 of 2/ },
    },
    {
      name: "daily=0 with a future backup still keeps the newest past backup",
      backups: [b("future", "2026-12-01T00:00:00Z"), b("past", "2026-11-30T00:00:00Z"), b("older", "2026-11-29T00:00:00Z")],
      policy: { daily: 0 },
      now,
      keep: ["future", "past"], remove: ["older"],
    },
    {
      name: "manual and pre-restore backups are never removed",
      backups: [b("man-old", "2019-01-01T00:00:00Z", "manual"), b("pre", "2020-05-05T00:00:00Z", "pre-restore"), b("man-future", "2030-01-01T00:00:00Z", "manual"), b("d", "2026-11-30T00:00:00Z")],
      policy: { daily: 0, weekly: 0, monthly: 0 },
      now,
      keep: ["man-future", "d", "pre", "man-old"], remove: [],
      reasons: { "man-old": "manual backups are kept until deleted", pre: "pre-restore backups are kept until deleted" },
    },
  ]);
});

describe("invalid input throws ValidationError", () => {
  const ok = [b("x", "2026-11-30T00:00:00Z")];
  it.each<[string, RetentionCandidate[], Partial<RetentionPolicy>, Date, RegExp]>([
    ["unparseable createdAt", [b("x", "yesterday")], {}, NOW, /backup "x" has createdAt "yesterday"; expected an ISO 8601 timestamp/],
    ["createdAt without offset", [b("x", "2026-11-30T10:00:00")], {}, NOW, /createdAt "2026-11-30T10:00:00".*with an offset/],
    ["date-only createdAt", [b("x", "2026-11-30")], {}, NOW, /createdAt "2026-11-30"/],
    ["impossible calendar date", [b("x", "2026-02-29T00:00:00Z")], {}, NOW, /createdAt "2026-02-29T00:00:00Z"/],
    ["non-string createdAt", [{ id: "x", type: "daily", createdAt: 12 as unknown as string }], {}, NOW, /createdAt 12;/],
    ["negative daily", ok, { daily: -1 }, NOW, /"daily" must be a non-negative integer \(how many days to keep\), got -1/],
    ["fractional weekly", ok, { weekly: 1.5 }, NOW, /"weekly" must be a non-negative integer.*got 1\.5/],
    ["NaN monthly", ok, { monthly: NaN }, NOW, /"monthly" must be a non-negative integer.*got NaN/],
    ["unknown time zone", ok, { timeZone: "Mars/Olympus" }, NOW, /timeZone "Mars\/Olympus" is not a known IANA time zone; expected e\.g\. "UTC"/],
    ["empty time zone", ok, { timeZone: "" }, NOW, /timeZone "" is not a known IANA time zone/],
    ["unknown type", [{ id: "x", type: "hourly" as BackupType, createdAt: "2026-11-30T00:00:00Z" }], {}, NOW, /type "hourly"; expected one of daily, weekly, monthly, manual, pre-restore/],
    ["duplicate id", [...ok, ...ok], {}, NOW, /backup id "x" appears more than once/],
    ["invalid now", ok, {}, new Date("nope"), /"now" must be a valid Date, got Invalid Date/],
  ])("%s", (_name, backups, p, now, message) => {
    let caught: unknown;
    try {
      planRetention(backups, policy(p), now);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).code).toBe("validation_error");
    expect((caught as Error).message).toMatch(message);
  });
});

describe("partition property", () => {
  // Seeded PRNG (mulberry32) so a failure is reproducible from the seed.
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"];
  const now = new Date("2027-01-15T00:00:00Z");

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))("seed %i: keep and remove partition the input", (seed) => {
    const rand = rng(seed);
    const pick = (n: number) => Math.floor(rand() * n);
    const backups = Array.from({ length: 1 + pick(80) }, (_, i) => {
      // Coarse hour steps make equal timestamps likely, exercising the id tie-break.
      const t = now.getTime() + (pick(24 * 400) - 24 * 380) * 3_600_000;
      return b(`b${i}`, new Date(t).toISOString(), BACKUP_TYPES[pick(BACKUP_TYPES.length)]!);
    });
    const p = policy({ daily: pick(10), weekly: pick(6), monthly: pick(14), timeZone: zones[pick(zones.length)]! });
    const plan = planRetention(backups, p, now);

    const keepIds = plan.keep.map((d) => d.id);
    const removeIds = plan.remove.map((d) => d.id);
    expect([...keepIds, ...removeIds].sort()).toEqual(backups.map((x) => x.id).sort());
    expect(keepIds.filter((id) => removeIds.includes(id))).toEqual([]);

    for (const list of [plan.keep, plan.remove]) {
      const sorted = [...list].sort((x, y) => Date.parse(y.createdAt) - Date.parse(x.createdAt) || (x.id < y.id ? -1 : 1));
      expect(list.map((d) => d.id)).toEqual(sorted.map((d) => d.id));
      for (const d of list) expect(d.reason.length).toBeGreaterThan(10);
    }
    expect(plan.remove.filter((d) => d.type === "manual" || d.type === "pre-restore")).toEqual([]);
    for (const type of ["daily", "weekly", "monthly"] as const) {
      const past = backups.filter((x) => x.type === type && Date.parse(x.createdAt) <= now.getTime());
      const keptPast = plan.keep.filter((d) => d.type === type && Date.parse(d.createdAt) <= now.getTime());
      if (past.length > 0) expect(keptPast.length).toBeGreaterThanOrEqual(1);
      expect(keptPast.length).toBeLessThanOrEqual(Math.max(p[type], 1));
      expect(keptPast[0]?.id).toBe(past.sort((x, y) => Date.parse(y.createdAt) - Date.parse(x.createdAt) || (x.id < y.id ? -1 : 1))[0]?.id);
    }
    // Input order must not matter.
    expect(planRetention([...backups].reverse(), p, now)).toEqual(plan);
  });
});
