// Table tests for the component rules, and the extractor enforcing them per entry with nothing written outside staging.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { extractArchive } from "./archive/extract.ts";
import { backupEntries, buildArchive, manifestFor } from "../test/helpers/test-archives.ts";
import { entryProblem, manifestProblem, ownerOf } from "./component-rules.ts";
import { UnsafeArchiveError } from "./errors.ts";

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe("component rules", () => {
  it.each([
    ["database/dev.db", "database"],
    ["uploads/a.txt", "uploads"],
    ["uploads/deep/nested/.hidden", "uploads"],
    ["config/package.json", "config"],
    ["config/package-lock.json", "config"],
    ["config/prisma/schema.prisma", "config"],
    ["config/.env.example", "config"],
    ["logs/combined-2026-11-25.log.gz", "logs"],
    ["logs/archive/error.log.gz", "logs"],
  ])("%s belongs to %s", (entry, owner) => {
    expect(ownerOf(entry)).toBe(owner);
    expect(entryProblem(entry, "file", owner)).toBeUndefined();
  });

  it.each([
    ["config/.env", "config", /config holds exactly .*never \.env/],
    ["config/.env.local", "config", /config holds exactly/],
    ["config/prisma/dev.db", "config", /config holds exactly/],
    ["config/server.js", "config", /config holds exactly/],
    ["config/node_modules/x/index.js", "config", /config holds exactly/],
    ["config/../x", "config", /'\.\.' segment/],
    ["config//package.json", "config", /not a normalised name/],
    ["logs/a.txt", "logs", /logs holds only log files/],
    ["logs/app.log", "logs", /logs holds only log files/],
    ["database/other.db", "database", /database holds exactly database\/dev\.db/],
    ["uploads", "uploads", /uploads holds only files under uploads\//],
    ["uploads/x.txt", "config", /listed under config but belongs to uploads/],
    ["RESTORE.txt", "config", /listed under config/],
    ["server.js", "secrets", /belongs to no component .*"secrets"/],
  ])("%s listed under %s is refused", (entry, listedUnder, rule) => {
    expect(entryProblem(entry, "file", listedUnder)).toMatch(rule);
  });

  it("allows manifest.json and RESTORE.txt unlisted, and only the folders components imply", () => {
    expect(entryProblem("RESTORE.txt", "file")).toBeUndefined();
    expect(entryProblem("uploads/deep", "directory")).toBeUndefined();
    expect(entryProblem("config/prisma", "directory")).toBeUndefined();
    expect(entryProblem("config/node_modules", "directory")).toMatch(/config holds exactly/);
    expect(entryProblem("bin", "directory")).toMatch(/belongs to no component/);
  });

  it("names the first manifest listing that breaks a rule", () => {
    const m = manifestFor([{ path: "config/package.json", data: "{}" }, { path: "config/.env", data: "JWT_SECRET=x" }]);
    expect(manifestProblem(m)).toMatchObject({ entry: "config/.env", component: "config" });
  });
});

describe("extractArchive with allowEntry", () => {
  it("refuses an entry outside the rules before writing it, and writes nothing outside staging", async () => {
    const parent = await mkdtemp(join(tmpdir(), "rules-test-"));
    temps.push(parent);
    // The embedded manifest is consistent; only the rule can refuse it.
    const files = [{ path: "config/package.json", data: "{}" }, { path: "config/.env", data: "JWT_SECRET=planted" }];
    const archive = await buildArchive(backupEntries(files));
    const err = await extractArchive(Readable.from([archive]), { stagingDir: join(parent, "staging"), allowEntry: entryProblem }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeArchiveError);
    expect((err as Error).message).toMatch(/^extract archive: config\/\.env: listed under config but not allowed there: config holds exactly/);
    expect(await readdir(parent)).toEqual(["staging"]);
    expect(await readdir(join(parent, "staging"))).toEqual([]); // refused while reading the manifest, before any file
  });

  it("refuses an unlisted folder entry outside every component", async () => {
    const parent = await mkdtemp(join(tmpdir(), "rules-test-"));
    temps.push(parent);
    const files = [{ path: "uploads/a.txt", data: "a" }];
    const archive = await buildArchive([...backupEntries(files), { name: "node_modules/", type: "directory" }]);
    const err = await extractArchive(Readable.from([archive]), { stagingDir: join(parent, "staging"), allowEntry: entryProblem }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeArchiveError);
    expect((err as Error).message).toMatch(/^extract archive: node_modules\/: belongs to no component/);
  });
});
