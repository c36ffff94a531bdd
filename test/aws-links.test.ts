// SST links: infra/ gives the functions one link, the API's JwtSecret, and runtime/aws.ts is what reads it; everything else arrives in the environment.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildApiDeps } from "../runtime/aws.ts";
import { tempDir } from "./helpers/crm.ts";

const SECRET = "linked-jwt-secret-of-at-least-32-characters";
// How SST's runtime hands a linked secret to the function; set before `sst`'s Resource first loads (it reads once).
process.env.SST_RESOURCE_JwtSecret = JSON.stringify({ type: "sst.sst.Secret", value: SECRET });

const source = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");

describe("SST links", () => {
  it("the API's deps take the JWT secret from the JwtSecret link when the environment has none", async () => {
    const env = { BACKUP_STORAGE: "s3", BACKUP_BUCKET: "colab-backups-test", BACKUP_EVENT_BUS: "colab-backup-events", BACKUP_DIR: tempDir("links-") };
    expect((await buildApiDeps(env)).auth).toEqual({ jwtSecret: SECRET });
    // JWKS_URL means RS256 tokens: the link is not consulted.
    expect((await buildApiDeps({ ...env, JWKS_URL: "https://crm.example.com/.well-known/jwks.json" })).auth).toEqual({ jwksUrl: "https://crm.example.com/.well-known/jwks.json" });
  });

  it("JwtSecret is the only link in infra/, given to the API function alone, and no handler but runtime/aws.ts reads Resource", () => {
    // infra/*.ts needs SST's globals, so it cannot be imported here; its links are read from the source.
    const links = ["functions.ts", "api.ts", "index.ts", "events.ts", "crons.ts", "storage.ts", "network.ts"].flatMap((f) =>
      [...source(`infra/${f}`).matchAll(/^\s*link:.*$/gm)].map((m) => `${f}: ${m[0].trim()}`),
    );
    expect(links).toEqual(["api.ts: link: jwtSecret ? [jwtSecret] : [],"]);
    expect(source("infra/functions.ts")).not.toMatch(/sst\.Linkable/);
    for (const f of ["functions/api.ts", "functions/worker.ts", "functions/scheduled-backup.ts", "functions/cleanup.ts", "functions/notifier.ts"]) {
      expect(source(f), f).not.toMatch(/Resource|from "sst"/);
    }
    expect(source("runtime/aws.ts")).toMatch(/"JwtSecret" in Resource/);
  });
});
