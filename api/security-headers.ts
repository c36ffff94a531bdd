// Security headers: what every /api answer carries (no caching, no sniffing, no framing, no referrer) and the dashboard's Content-Security-Policy.
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

// Shared by the API and the dashboard. HSTS without includeSubDomains: a custom domain's other hosts are not ours to pin.
const COMMON = {
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
  xContentTypeOptions: true,
  strictTransportSecurity: "max-age=15552000",
} as const;

/**
 * For every /api answer, errors, 401s, 413s and 429s included (secureHeaders sets them after the handler and onError ran).
 * JSON is never a document to render, so its CSP allows nothing; no-store because answers carry backup details and
 * an admin's view of them, which no shared or browser cache should keep.
 */
export function apiSecurityHeaders(): MiddlewareHandler {
  const headers = secureHeaders({
    ...COMMON,
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  });
  return async (c, next) => {
    await headers(c, next);
    c.res.headers.set("Cache-Control", "no-store");
  };
}

/**
 * The dashboard's policy: its own scripts and styles only (web/ has no inline script or style, and must keep it so),
 * and API calls only to its own origin plus `apiOrigins`. That last part is also what stops a crafted `?api=` link from
 * sending the admin's token to someone else's server.
 */
export function dashboardCsp(apiOrigins: readonly string[] = []): string {
  const connect = ["'self'", ...apiOrigins.map((o) => new URL(o).origin)];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${connect.join(" ")}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** For the dashboard's files where this project serves them (`colab-backup serve`). */
export function dashboardSecurityHeaders(apiOrigins: readonly string[] = []): MiddlewareHandler {
  const headers = secureHeaders(COMMON);
  const csp = dashboardCsp(apiOrigins);
  return async (c, next) => {
    await headers(c, next);
    c.res.headers.set("Content-Security-Policy", csp);
  };
}
