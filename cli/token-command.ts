// `colab-backup token [--ttl 1h] [--link]`: a short-lived admin token (or dashboard sign-in link) signed with JWT_SECRET.
import { ValidationError } from "../core/errors.ts";
import type { Command } from "./commands.ts";

/** A day at most: the token is a bearer credential that cannot be revoked before it expires, short is the point. */
export const MAX_TTL_SECONDS = 24 * 3600;
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

export function parseTtl(raw: string): number {
  const m = /^(\d+)([smh])$/.exec(raw.trim());
  if (!m) throw new ValidationError(`--ttl must be a number with a unit s, m or h, such as 30m or 1h; got "${raw}"`);
  const seconds = Number(m[1]) * UNITS[m[2]!]!;
  if (seconds < 1) throw new ValidationError(`--ttl must be at least 1s; got "${raw}"`);
  if (seconds > MAX_TTL_SECONDS) throw new ValidationError(`--ttl must be at most 24h (a token cannot be revoked before it expires); got "${raw}"; run the command again when it runs out`);
  return seconds;
}

export const token: Command<{ ttlSeconds: number; link: boolean; url?: string; email?: string }> = {
  options: { ttl: { type: "string" }, link: { type: "boolean" }, url: { type: "string" }, email: { type: "string" } },
  parse(input) {
    if (input.positionals.length) throw new ValidationError(`token takes no arguments; got ${input.positionals.join(" ")}`);
    const ttlSeconds = parseTtl(typeof input.values.ttl === "string" ? input.values.ttl : "1h");
    const url = input.values.url as string | undefined;
    if (url !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s#]*)?$/.test(url)) throw new ValidationError(`--url must be the dashboard's address such as https://backup.example.com; got "${url}"`);
    if (url !== undefined && input.values.link !== true) throw new ValidationError("--url sets where a sign-in link points; add --link");
    const email = input.values.email as string | undefined;
    if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new ValidationError(`--email must be an address such as admin@example.com (the audit trail names it); got "${email}"`);
    return { ttlSeconds, link: input.values.link === true, url, email };
  },
  async run(ctx, { ttlSeconds, link, url, email }) {
    const { config } = ctx.runtime;
    if (config.server.jwksUrl) {
      throw new ValidationError("sign token: JWKS_URL is set, so the API accepts only RS256 tokens signed by the CRM's private key, which this tool does not hold; sign in to the CRM to get a token");
    }
    // Loaded here: the JWT library costs every other command start-up time and memory.
    const { decodeJwt } = await import("jose");
    const { localJwtSecret, mintAdminToken } = await import("../runtime/local-auth.ts");
    // The same secret `serve` uses: the configured JWT_SECRET, else the local one serve generates and keeps in BACKUP_DIR.
    const { secret, generated } = await localJwtSecret(config.backupDir, config.server.jwtSecret);
    const jwt = await mintAdminToken(secret, { ttlSeconds, ...(email ? { email } : {}) });
    const expiresAt = new Date(decodeJwt(jwt).exp! * 1000).toISOString();
    const base = (url ?? config.server.dashboardOrigin ?? `http://127.0.0.1:${config.server.port}`).replace(/\/+$/, "");
    // The dashboard reads the token from the fragment, which browsers never send to a server or put in its logs.
    const signIn = link ? `${base}/#token=${jwt}` : undefined;
    if (!ctx.json) {
      const origin = generated ? `the local secret in ${config.backupDir}/.jwt-secret (no JWT_SECRET is set; \`serve\` uses the same one)` : "JWT_SECRET";
      process.stderr.write(`${link ? "Sign-in link" : "Admin token"} signed with ${origin}, valid until ${expiresAt}. Anyone holding it is an admin until then.\n`);
    }
    return { json: { ok: true, token: jwt, expiresAt, ...(signIn ? { link: signIn } : {}) }, text: signIn ?? jwt };
  },
};
