// The failed sign-in limit: the limiter's window and memory cap, and through the app 429 with Retry-After for one address only.
import { afterEach, describe, expect, it } from "vitest";
import { AuthFailureLimiter } from "./auth-rate-limit.ts";
import { hsToken, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe("AuthFailureLimiter", () => {
  it("refuses an address after N failures until the window from its first failure has passed", () => {
    const c = clock();
    const limiter = new AuthFailureLimiter({ maxFailures: 3, windowMs: 60_000, now: c.now });
    expect(limiter.fail("a")).toBe(false);
    c.advance(10_000);
    expect(limiter.fail("a")).toBe(false);
    expect(limiter.retryAfterSeconds("a")).toBe(0);
    expect(limiter.fail("a")).toBe(true);
    expect(limiter.retryAfterSeconds("a")).toBe(50);
    expect(limiter.retryAfterSeconds("b")).toBe(0);
    c.advance(49_500);
    expect(limiter.retryAfterSeconds("a")).toBe(1);
    c.advance(500);
    expect(limiter.retryAfterSeconds("a")).toBe(0);
    expect(limiter.size).toBe(0);
    // A new window starts from scratch.
    expect(limiter.fail("a")).toBe(false);
    expect(limiter.retryAfterSeconds("a")).toBe(0);
  });

  it("remembers at most maxEntries addresses: expired ones go first, then the oldest", () => {
    const c = clock();
    const limiter = new AuthFailureLimiter({ maxFailures: 1, windowMs: 60_000, maxEntries: 3, now: c.now });
    limiter.fail("old");
    c.advance(59_000);
    limiter.fail("b");
    limiter.fail("c");
    c.advance(1_000); // "old" has expired
    limiter.fail("d");
    expect(limiter.size).toBe(3);
    expect(["b", "c", "d"].map((a) => limiter.retryAfterSeconds(a) > 0)).toEqual([true, true, true]);
    for (let i = 0; i < 1000; i++) limiter.fail(`flood-${i}`);
    expect(limiter.size).toBe(3);
    expect(limiter.retryAfterSeconds("flood-999")).toBeGreaterThan(0);
  });
});

describe("failed sign-ins through the API", () => {
  it("answer 429 with Retry-After for the failing address only, until the window passes", async () => {
    const c = clock();
    api = await makeTestApi({
      authLimiter: new AuthFailureLimiter({ now: c.now }), // the defaults: 10 a minute
      clientAddress: (ctx) => ctx.req.header("x-test-peer"), // stands in for the socket's peer, which app.request has not
    });
    const from = (peer: string, token: string) => api!.app.request("/api/backup", { headers: { "x-test-peer": peer, authorization: `Bearer ${token}` } });
    const wrong = await hsToken({ sub: "x", role: "ADMIN" }, { secret: "a-guessed-secret-that-is-long-enough-000" });

    for (let i = 0; i < 10; i++) expect((await from("198.51.100.1", wrong)).status).toBe(401);
    c.advance(15_000);
    const limited = await from("198.51.100.1", api.token); // even a right token: otherwise a correct guess would still show
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("45");
    expect(limited.headers.get("cache-control")).toBe("no-store");
    expect(await limited.json()).toEqual({
      error: { code: "too_many_requests", message: "authenticate: too many failed sign-ins from 198.51.100.1 (10 within 60 s); try again in 45 s" },
    });
    expect(api.logs.some((l) => l.includes("too many failed sign-ins") && l.includes("198.51.100.1"))).toBe(true);

    expect((await from("203.0.113.9", api.token)).status).toBe(200);
    expect((await from("203.0.113.9", wrong)).status).toBe(401);

    c.advance(45_000);
    expect((await from("198.51.100.1", api.token)).status).toBe(200);
  });

  it("does not count a 403 (a valid token without the ADMIN role is no guess)", async () => {
    api = await makeTestApi({ authLimiter: new AuthFailureLimiter({ maxFailures: 2 }) });
    const user = await hsToken({ sub: "u", role: "USER" });
    for (let i = 0; i < 5; i++) expect((await api.call("/api/backup", { headers: { authorization: `Bearer ${user}` } })).status).toBe(403);
    expect((await api.call("/api/backup")).status).toBe(200);
  });
});
