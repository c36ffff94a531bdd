// Local sign-in: a JWT secret kept in the store folder when none is configured, and one-time admin sign-in links.
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { SignJWT } from "jose";

/** The configured JWT_SECRET, or one generated on first start and kept (mode 0600) so restarts keep sessions. */
export async function localJwtSecret(backupDir: string, configured?: string): Promise<{ secret: string; generated: boolean }> {
  if (configured) return { secret: configured, generated: false };
  const file = path.join(backupDir, ".jwt-secret");
  try {
    const existing = (await readFile(file, "utf8")).trim();
    if (existing.length >= 32) return { secret: existing, generated: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secret = randomBytes(48).toString("base64url");
  await writeFile(file, secret + "\n", { mode: 0o600 });
  return { secret, generated: true };
}

/** An HS256 admin token like the CRM would issue, for the local sign-in link. */
export async function mintAdminToken(secret: string, opts: { sub?: string; email?: string; ttlSeconds?: number } = {}): Promise<string> {
  return new SignJWT({ role: "ADMIN", email: opts.email ?? "local-admin@localhost" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(opts.sub ?? "local-admin")
    .setIssuedAt()
    .setExpirationTime(`${opts.ttlSeconds ?? 12 * 3600}s`)
    .sign(new TextEncoder().encode(secret));
}
