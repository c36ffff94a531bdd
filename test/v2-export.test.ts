// The v2 export as GNU tools read it: gzip -t, tar -tzvf in manifest order, tar -xzf + sha256sum -c, identical twice, damage refused.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import type { Engine } from "../core/engine.ts";
import { COMPONENTS, type StoredManifestV2 } from "../core/manifest.ts";
import { exportStream } from "../core/v2/export.ts";
import { makeCrm, makeTestEngine, tempDir } from "./helpers/crm.ts";

const V2 = { BACKUP_FORMAT: "v2" };
const LONG_DIR = `uploads/${"nested-folder/".repeat(9)}`; // > 100 bytes: the ustar prefix field
const LONG_NAME = `uploads/${"n".repeat(150)}.txt`; // one name over 100 bytes: only a pax record holds it

/** The test CRM plus files that take every path through the export: multi-piece gzip and raw files, long names. */
async function backedUp(): Promise<{ engine: Engine; m: StoredManifestV2; root: string }> {
  const crm = makeCrm();
  const extra: Record<string, Buffer> = {
    "uploads/big/report.csv": Buffer.from(Array.from({ length: 60_000 }, (_, i) => `${i},customer ${i % 977},${(i * 37) % 1000}.50,won\n`).join("")),
    "uploads/big/scan.jpg": randomBytes(2_500_000),
    [`${LONG_DIR}deep-note.md`]: Buffer.from("# deep\n".repeat(300)),
    [LONG_NAME]: Buffer.from("long name\n"),
  };
  for (const [rel, body] of Object.entries(extra)) {
    mkdirSync(path.dirname(path.join(crm.root, rel)), { recursive: true });
    writeFileSync(path.join(crm.root, rel), body);
  }
  const engine = makeTestEngine(crm.root, undefined, V2);
  const out = await runBackup(engine, { type: "manual" });
  if (out.skipped || out.manifest.formatVersion !== 2) throw new Error("expected a v2 backup");
  return { engine, m: out.manifest, root: crm.root };
}

async function exportBytes(engine: Engine, m: StoredManifestV2): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await exportStream(engine.storage, m)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const files = (m: StoredManifestV2) => COMPONENTS.flatMap((c) => m.components[c]?.files ?? []);

describe("v2 export through GNU gzip and tar", () => {
  it("is a valid gzip stream and tar archive in manifest order, restores by sha256sum -c, passes stored pieces through, and is identical twice", async () => {
    const { engine, m, root } = await backedUp();
    const dir = tempDir("export-gnu-");
    const file = path.join(dir, "a.tar.gz");
    const a = await exportBytes(engine, m);
    writeFileSync(file, a);
    expect((await exportBytes(engine, m)).equals(a)).toBe(true);
    execFileSync("gzip", ["-t", file]); // throws on any error or warning (trailing garbage exits 2)

    const listing = execFileSync("tar", ["--quoting-style=literal", "-tzvf", file]).toString().trimEnd().split("\n").map((line) => {
      const hit = /^(\S+) (\S+)\s+(\d+) \S+ \S+ (.*)$/.exec(line);
      if (!hit) throw new Error(`unexpected tar -tzvf line: ${line}`);
      return { perms: hit[1], owner: hit[2], size: Number(hit[3]), name: hit[4] };
    });
    const want = files(m);
    expect(listing.map((e) => e.name)).toEqual(["manifest.json", "RESTORE.txt", ...want.map((f) => f.path)]);
    expect(listing.slice(2).map((e) => e.size)).toEqual(want.map((f) => f.size));
    expect(listing.every((e) => e.owner === "0/0")).toBe(true);
    expect(listing.find((e) => e.name === "uploads/a.txt")?.perms).toBe("-rw-------");
    expect(listing.map((e) => e.name)).toEqual(expect.arrayContaining([LONG_NAME, `${LONG_DIR}deep-note.md`, "uploads/with space & ünïcode.txt", "uploads/empty.txt"]));

    const out = path.join(dir, "x");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", file, "-C", out]);
    const inner = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8")) as StoredManifestV2;
    writeFileSync(path.join(out, "SHA256SUMS"), files(inner).map((f) => `${f.sha256}  ${f.path}\n`).join(""));
    execFileSync("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: out });
    for (const rel of ["uploads/big/report.csv", "uploads/big/scan.jpg", LONG_NAME]) {
      expect(readFileSync(path.join(out, rel)).equals(readFileSync(path.join(root, rel)))).toBe(true);
    }

    // Content is not deflated again: each stored gzip piece of the multi-piece csv is in the export byte for byte.
    const csv = want.find((f) => f.path === "uploads/big/report.csv")!;
    expect(csv.blobs.length).toBeGreaterThan(1);
    expect(csv.blobs.every((b) => b.encoding === "gzip")).toBe(true);
    for (const ref of csv.blobs) {
      const stored = readFileSync(path.join(engine.config.backupDir, ref.pack)).subarray(ref.offset, ref.offset + ref.length);
      expect(a.indexOf(stored)).toBeGreaterThan(0);
    }
  });

  it.each(["uploads/big/report.csv", "uploads/big/scan.jpg"])("fails naming %s when one byte of its piece inside a pack is flipped", async (victim) => {
    const { engine, m } = await backedUp();
    const f = files(m).find((x) => x.path === victim)!;
    const ref = f.blobs[1]!; // not the first piece: the export has already written part of the file when it meets the damage
    expect(ref.encoding).toBe(victim.endsWith(".jpg") ? "raw" : "gzip");
    const pack = path.join(engine.config.backupDir, ref.pack);
    const bytes = readFileSync(pack);
    bytes[ref.offset + Math.floor(ref.length / 2)]! ^= 0x01;
    writeFileSync(pack, bytes);
    await expect(exportBytes(engine, m)).rejects.toThrow(new RegExp(`${victim.replace(/\./g, "\\.")}.*damaged`));
  });
});
