// Admin authentication: verifies the CRM's bearer JWT with one pinned algorithm, requires exp and role ADMIN, and records who asked.
import type { Context, MiddlewareHandler } from "hono";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from "jose";
import type { Logger } from "../core/engine.ts";
import { ConfigError, errorMessage } from "../core/errors.ts";
import { jwksUrlProblem } from "../core/jwks-url.ts";
import type { AppEnv, AuthSettings } from "./deps.ts";
import { errorBody } from "./errors.ts";

const REALM = "colab-backup";

type Verify = (token: string) => Promise<JWTPayload>;

/**
 * Builds the verifier once, at start-up, so a misconfigured deployment fails to start instead of answering 401s.
 * One deployment accepts exactly one algorithm: HS256 with the shared secret, or RS256 with the CRM's key set.
 * Pinning it is what stops an RS256 public key from being used as an HS256 secret, and `none` from passing at all.
 */
export function makeVerifier(settings: AuthSettings): { algorithm: "HS256" | "RS256"; verify: Verify } {
  const { jwtSecret, jwksUrl } = settings;
  if (jwtSecret && jwksUrl) throw new ConfigError("configure API auth: set either jwtSecret (HS256) or jwksUrl (RS256), not both");
  const claims: Pick<JWTVerifyOptions, "requiredClaims" | "issuer" | "audience"> = {
    requiredClaims: ["exp"], // a token that never expires would be an admin password that cannot be rotated
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  if (jwtSecret) {
    const key = new TextEncoder().encode(jwtSecret);
    return { algorithm: "HS256", verify: async (t) => (await jwtVerify(t, key, { ...claims, algorithms: ["HS256"] })).payload };
  }
  if (jwksUrl) {
    // Checked again here, not only in loadConfig: the Lambda and tests build AuthSettings without it.
    const problem = jwksUrlProblem(jwksUrl);
    if (problem) throw new ConfigError(`configure API auth: jwksUrl ${problem}`);
    const url = new URL(jwksUrl);
    // jose caches the key set and refetches only for an unknown kid, at most every 30 s.
    const keys = createRemoteJWKSet(url);
    return { algorithm: "RS256", verify: async (t) => (await jwtVerify(t, keys, { ...claims, algorithms: ["RS256"] })).payload };
  }
  throw new ConfigError("configure API auth: set jwtSecret (HS256, the CRM's JWT secret) or jwksUrl (RS256, the CRM's key set)");
}

/** Requires an admin token; puts the admin's identity in the context as `admin`. Tokens are never logged. */
export function adminAuth(settings: AuthSettings, log: Logger): MiddlewareHandler<AppEnv> {
  const { algorithm, verify } = makeVerifier(settings);
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (token === null) return unauthorized(c, null, "authenticate: send Authorization: Bearer <token> with an admin token from the CRM");
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (err) {
      if (settings.jwksUrl && keySetUnavailable(err)) {
        log.error("auth: cannot read the CRM's key set", { jwksUrl: settings.jwksUrl, error: errorMessage(err) });
        return c.json(errorBody("auth_unavailable", "authenticate: the CRM's signing keys cannot be fetched right now; try again shortly"), 503);
      }
      const reason = rejectionReason(err, algorithm);
      log.warn("auth: token rejected", { method: c.req.method, path: c.req.path, reason });
      return unauthorized(c, "invalid_token", `authenticate: ${reason}`);
    }
    const email = typeof payload.email === "string" && payload.email ? payload.email : undefined;
    const sub = typeof payload.sub === "string" && payload.sub ? payload.sub : undefined;
    const actor = email ?? sub;
    if (!actor) return unauthorized(c, "invalid_token", "authenticate: the token names no user (no email or sub claim)");
    if (payload.role !== "ADMIN") {
      log.warn("auth: not an admin", { method: c.req.method, path: c.req.path, actor });
      c.header("WWW-Authenticate", `Bearer realm="${REALM}", error="insufficient_scope"`);
      return c.json(errorBody("forbidden", `authorize: backups need an ADMIN account; ${actor} has role ${String(payload.role ?? "none")}`), 403);
    }
    c.set("admin", { actor, ...(sub ? { sub } : {}), ...(email ? { email } : {}) });
    await next();
  };
}

function bearerToken(header: string | undefined): string | null {
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header ?? "");
  return m?.[1] ?? null;
}

function unauthorized(c: Context, error: "invalid_token" | null, message: string): Response {
  const description = message.replace(/["\\]/g, "'");
  c.header("WWW-Authenticate", error ? `Bearer realm="${REALM}", error="${error}", error_description="${description}"` : `Bearer realm="${REALM}"`);
  return c.json(errorBody("unauthorized", message), 401);
}

/** A failure to reach or read the key set is our outage, not the caller's bad token. */
function keySetUnavailable(err: unknown): boolean {
  if (!(err instanceof joseErrors.JOSEError)) return true;
  return err.code === "ERR_JWKS_TIMEOUT" || err.code === "ERR_JWKS_INVALID" || err.code === "ERR_JOSE_GENERIC";
}

/** What a person can act on; jose's own messages never contain the token. */
function rejectionReason(err: unknown, algorithm: string): string {
  if (!(err instanceof joseErrors.JOSEError)) return "the token could not be verified";
  switch (err.code) {
    case "ERR_JWT_EXPIRED":
      return "the token has expired; sign in to the CRM again";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const e = err as InstanceType<typeof joseErrors.JWTClaimValidationFailed>;
      if (e.claim === "exp") return "the token has no exp (expiry) claim; the CRM must issue tokens that expire";
      return `the token's ${e.claim} claim is not accepted (${e.reason})`;
    }
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return `the token is not signed with ${algorithm}, the only algorithm this server accepts`;
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "the token's signature does not match; it was not issued by this CRM or was altered";
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return "no key in the CRM's key set matches the token";
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return "the token is malformed; expected a signed JWT (three base64url parts)";
    default:
      return "the token is not valid";
  }
}
