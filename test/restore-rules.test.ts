// Planted backups that try to restore files outside their component: restore refuses them untouched, verify names them.
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { TestFile } from "./helpers/test-archives.ts";
import { runBackup } from "../core/backup.ts";
import { COMPONENT_RULES } from "../core/component-rules.ts";
import { UnsafeArchiveError } from "../core/errors.ts";
import type { ComponentName } from "../core/manifest.ts";
import { runRestore } from "../core/restore.ts";
import { verifyBackup } from "../core/verify.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";
import { plantBackup, type Listing } from "./helpers/planted-backup.ts";

/** Every file and folder under root with its mode and, for files, its SHA-256: "unchanged" means equal digests. */
function crmDigest(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(root, r));
      if (st.isDirectory()) {
        out[r] = `dir ${st.mode.toString(8)} ${st.uid}:${st.gid}`;
        walk(r);
      } else out[r] = `file ${st.mode.toString(8)} ${st.uid}:${st.gid} ${createHash("sha256").update(readFileSync(path.join(root, r))).digest("hex")}`;
    }
  };
  walk("");
  return out;
}

const realConfig = (root: string): TestFile[] =>
  ["package.json", "package-lock.json", "prisma/schema.prisma", ".env.example"].map((f) => ({ path: `config/${f}`, data: readFileSync(path.join(root, f)) }));
const log = (p: string, text: string): TestFile => ({ path: p, data: gzipSync(text) });

interface Plant {
  name: string;
  component: ComponentName;
  entry: string;
  listing: (root: string) => Listing;
  /** What the message says about the entry besides its name: the rule it breaks. */
  rule: RegExp | string;
}

const evil = (p: string): TestFile => ({ path: p, data: `planted ${p}\n` });
const PLANTS: Plant[] = [
  { name: "config with .env", component: "config", entry: "config/.env", listing: (r) => ({ config: [...realConfig(r), evil("config/.env")] }), rule: COMPONENT_RULES.config },
  { name: "config with .env.production", component: "config", entry: "config/.env.production", listing: (r) => ({ config: [...realConfig(r), evil("config/.env.production")] }), rule: COMPONENT_RULES.config },
  { name: "config with server.js", component: "config", entry: "config/server.js", listing: (r) => ({ config: [...realConfig(r), evil("config/server.js")] }), rule: COMPONENT_RULES.config },
  { name: "config with node_modules", component: "config", entry: "config/node_modules/x/index.js", listing: (r) => ({ config: [...realConfig(r), evil("config/node_modules/x/index.js")] }), rule: COMPONENT_RULES.config },
  { name: "config with config/../x", component: "config", entry: "config/../x", listing: (r) => ({ config: [...realConfig(r), evil("config/../x")] }), rule: "'..' segment" },
  { name: "logs with a .txt", component: "logs", entry: "logs/a.txt", listing: () => ({ logs: [log("logs/app.log.gz", "ok\n"), evil("logs/a.txt")] }), rule: COMPONENT_RULES.logs },
  { name: "logs with a script", component: "logs", entry: "logs/x.sh", listing: () => ({ logs: [evil("logs/x.sh")] }), rule: COMPONENT_RULES.logs },
  { name: "an uploads entry listed under config", component: "config", entry: "uploads/evil.txt", listing: (r) => ({ config: [...realConfig(r), evil("uploads/evil.txt")] }), rule: "listed under config but belongs to uploads" },
  { name: "database with another file", component: "database", entry: "database/other.db", listing: () => ({ database: [evil("database/other.db")] }), rule: COMPONENT_RULES.database },
];

describe("restore and verify: a component restores only what belongs to it", () => {
  for (const plant of PLANTS) {
    it(`refuses ${plant.name}, leaves the CRM byte for byte as it was, and verify names ${plant.entry}`, async () => {
      const crm = makeCrm();
      const engine = makeTestEngine(crm.root);
      const m = await plantBackup(engine, plant.listing(crm.root));
      const before = crmDigest(crm.root);

      const err = await runRestore(engine, { backupId: m.id, components: [plant.component], confirm: "CONFIRM_RESTORE" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeArchiveError);
      expect((err as Error).message).toContain(plant.entry);
      if (typeof plant.rule === "string") expect((err as Error).message).toContain(plant.rule);
      expect(crmDigest(crm.root)).toEqual(before);

      const report = await verifyBackup(engine, m.id);
      expect(report.ok).toBe(false);
      expect(report.components[plant.component]).toMatchObject({ status: "failed", detail: expect.stringContaining(plant.entry) });
      if (typeof plant.rule === "string") expect(report.components[plant.component]!.detail).toContain(plant.rule);
    });
  }

  it("refuses an entry the stored manifest hides but the archive holds: the extractor checks every entry, not only the listing", async () => {
    // Rollback journaling: this refusal comes after the pre-restore backup, whose read-only open of a WAL database
    // leaves SQLite's -wal/-shm beside it (the running CRM has them anyway); every CRM byte must still be as it was.
    const crm = makeCrm(undefined, "delete");
    const engine = makeTestEngine(crm.root);
    const clean = { config: realConfig(crm.root) };
    const m = await plantBackup(engine, clean, { config: [...realConfig(crm.root), evil("config/.env")] });
    const before = crmDigest(crm.root);
    const err = await runRestore(engine, { backupId: m.id, components: ["config"], confirm: "CONFIRM_RESTORE" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeArchiveError);
    expect((err as Error).message).toMatch(/^restore \S+: extract archive: config\/\.env: .*config holds exactly/);
    expect((err as Error).message).toContain(m.id); // which backup holds it
    expect(crmDigest(crm.root)).toEqual(before);
    expect(readdirSync(crm.root).filter((n) => n.startsWith(".colab-restore-"))).toEqual([]);
    const report = await verifyBackup(engine, m.id);
    expect(report.ok).toBe(false);
    expect(report.components.config).toMatchObject({ status: "failed", detail: expect.stringContaining("config/.env") });
  });

  it("still restores and verifies real backups, .env untouched", async () => {
    const crm = makeCrm();
    const engine = makeTestEngine(crm.root);
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("unexpected skip");
    expect((await verifyBackup(engine, out.manifest.id)).ok).toBe(true);
    await runRestore(engine, { backupId: out.manifest.id, components: ["database", "uploads", "config", "logs"], confirm: "CONFIRM_RESTORE" });
    expect(readFileSync(path.join(crm.root, ".env"), "utf8")).toBe("JWT_SECRET=top-secret\n");
  });
});
