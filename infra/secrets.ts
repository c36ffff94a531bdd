// Secrets, set per stage with `npx sst secret set NAME value --stage STAGE`, never read from .env or code.
import { config } from "./config.ts";

/**
 * JwtSecret: the CRM's HS256 token secret (JWT_SECRET, 32+ characters), linked to the API function only.
 * Not created when JWKS_URL is set (RS256 tokens verified against the CRM's public keys need no secret).
 * There is no SMTP password: on AWS mail goes through SES with the notifier's IAM role.
 */
export function secrets() {
  const usesJwks = "JWKS_URL" in config.runtimeEnv;
  return { jwtSecret: usesJwks ? undefined : new sst.Secret("JwtSecret") };
}
