// Start-up cost: the built CLI runs bundled, and a backup, list or verify loads neither the mailer, the JWT library nor the HTTP server's helpers
// (about 25 MiB and a few hundred ms of start-up between them); `token` still loads the JWT library it needs.
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { BIN } from "./helpers/run-cli.ts";

/** A module hook that prints every package the process resolves, and the CLI main the bin ran, one line each, to stderr. */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(
  "export async function resolve(s, c, n) { const r = await n(s, c); const m = /node_modules\\\\/((?:@[^/]+\\\\/)?[^/]+)/.exec(r.url); if (m) process.stderr.write('PKG ' + m[1] + '\\\\n'); else if (/\\\\/dist\\\\/(bundle|cli)\\\\/main\\\\.js$/.test(r.url)) process.stderr.write('MAIN ' + r.url + '\\\\n'); return r; }"
));
`)}`;

function packagesLoaded(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; packages: Set<string>; stdout: string; main: string[] }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", HOOK, BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const packages = new Set([...stderr.matchAll(/^PKG (\S+)$/gm)].map((m) => m[1]!));
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, packages, stdout, main: [...stderr.matchAll(/^MAIN (\S+)$/gm)].map((m) => m[1]!) });
    });
  });
}

describe("what a command loads", () => {
  it("a backup and a list leave out nodemailer, jose and @hono/node-server; token loads jose", async () => {
    const crm = makeCrm();
    const store = path.join(tempDir("store-"), "s");
    mkdirSync(store);
    const env = { CRM_ROOT: crm.root, BACKUP_DIR: store, BACKUP_EMAIL_ENABLED: "false", JWT_SECRET: "x".repeat(40) };
    for (const args of [["backup", "--json"], ["list", "--json"]]) {
      const r = await packagesLoaded(args, env);
      expect(r.code, r.stdout).toBe(0);
      // The built CLI runs as one bundle (cli/build-bundle.mjs), zod inside it: better-sqlite3, native, is still a package.
      expect(r.main, "the bin ran the bundle").toEqual([expect.stringMatching(/\/dist\/bundle\/main\.js$/)]);
      expect(r.packages.has("better-sqlite3"), `the hook saw the packages ${[...r.packages].join(", ")}`).toBe(true); // the hook works
      for (const heavy of ["nodemailer", "jose", "@hono/node-server", "hono", "@aws-sdk/client-s3"]) expect(r.packages.has(heavy), `${args[0]} loaded ${heavy}`).toBe(false);
    }
    const t = await packagesLoaded(["token", "--json"], env);
    expect(t.code, t.stdout).toBe(0);
    expect(t.packages.has("jose")).toBe(true);
  }, 60_000);
});
