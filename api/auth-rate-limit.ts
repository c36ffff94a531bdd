// Failed sign-ins per client address: after too many 401s within a window, 429 with Retry-After until the window has passed.
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "../core/engine.ts";
import type { AppEnv } from "./deps.ts";
import { errorBody } from "./errors.ts";

export interface AuthLimitOptions {
  /** Failures allowed per address within one window; the next request is refused. Default 10. */
  maxFailures?: number;
  /** The window, from an address's first failure. Default one minute. */
  windowMs?: number;
  /** Addresses remembered at most, so a flood from many addresses cannot grow memory without bound. Default 10 000. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  windowStart: number;
}

/**
 * A fixed window per address, in this process's memory. On Lambda that means per container: a burst spread over
 * several warm containers gets up to N failures in each, which still bounds guessing to a handful per second.
 */
export class AuthFailureLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  // Insertion order is window-start order (an entry is re-inserted when its window restarts), so the first is the oldest.
  private readonly entries = new Map<string, Entry>();

  constructor(opts: AuthLimitOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 10;
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whole seconds until `address` may try again; 0 when it may now. */
  retryAfterSeconds(address: string): number {
    const e = this.live(address);
    if (!e || e.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((e.windowStart + this.windowMs - this.now()) / 1000));
  }

  /** Counts one failure; returns true when this one used up the address's allowance. */
  fail(address: string): boolean {
    const e = this.live(address);
    if (e) {
      e.failures++;
      return e.failures === this.maxFailures;
    }
    if (this.entries.size >= this.maxEntries) this.evict();
    this.entries.set(address, { failures: 1, windowStart: this.now() });
    return this.maxFailures === 1;
  }

  private live(address: string): Entry | undefined {
    const e = this.entries.get(address);
    if (e && this.now() >= e.windowStart + this.windowMs) {
      this.entries.delete(address);
      return undefined;
    }
    return e;
  }

  /** Drops expired entries; if none had expired, the oldest one (whose window is the nearest to its end anyway). */
  private evict(): void {
    const now = this.now();
    for (const [address, e] of this.entries) if (now >= e.windowStart + this.windowMs) this.entries.delete(address);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

/**
 * Goes before adminAuth: refuses an address that is over its allowance before its token is even checked (or a right
 * guess would still be told apart from a wrong one), and counts the 401s adminAuth answers. A 403 is not counted:
 * it needs a valid token, so it is no guess.
 */
export function authFailureLimit(limiter: AuthFailureLimiter, clientAddress: (c: Context) => string | undefined, log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const address = addressOf(c, clientAddress);
    const wait = limiter.retryAfterSeconds(address);
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      return c.json(
        errorBody("too_many_requests", `authenticate: too many failed sign-ins from ${address} (${limiter.maxFailures} within ${limiter.windowMs / 1000} s); try again in ${wait} s`),
        429,
      );
    }
    await next();
    if (c.res.status === 401 && limiter.fail(address)) {
      log.warn("auth: too many failed sign-ins; refusing the address for the rest of the window", { address, windowMs: limiter.windowMs });
    }
  };
}

function addressOf(c: Context, clientAddress: (c: Context) => string | undefined): string {
  try {
    return clientAddress(c) || "unknown";
  } catch {
    // No connection info (e.g. app.request in tests): every such request shares one allowance, which errs on the safe side.
    return "unknown";
  }
}
