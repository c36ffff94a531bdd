// Fault: a time-bounded (20 s) property-based fuzz of the extractor with fast-check: random tar entries (names, types,
// modes, sizes, bytes, raw headers) and mutated valid archives. Property: extraction either succeeds with every written
// file inside staging and matching the manifest, or throws a BackupError; it never throws anything else, never hangs,
// and never writes outside staging. Runtime: ~25 s.
import { createHash } from "node:crypto";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractArchive } from "../../core/archive/extract.ts";
import { backupEntries, buildArchive, manifestFor, rawHeader, tarEntries, type TestEntry, type TestFile } from "../helpers/test-archives.ts";
import { BackupError } from "../../core/errors.ts";
import { recordFault } from "./record.ts";

const FUZZ_MS = 20_000;
const HANG_MS = 10_000;
const SEED = 20261129;

const NAMES = ["uploads/a.txt", "uploads/d/", "uploads/d/b.bin", "config/package.json", "logs/x.log.gz", "database/dev.db", "manifest.json",
  "RESTORE.txt", "../evil", "uploads/../../evil", "/tmp/fuzz-evil", "uploads//./a.txt", "uploads\\evil", "", ".", "uploads/" + "n".repeat(120), "uploads/ü.txt"];
const TYPES = ["file", "directory", "symlink", "link", "fifo", "character-device", "block-device", "contiguous-file"] as const;

const entryArb: fc.Arbitrary<TestEntry> = fc.oneof(
  fc.record({
    name: fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 40 })),
    type: fc.constantFrom(...TYPES),
    mode: fc.oneof(fc.constantFrom(0o644, 0o755, 0o4755, 0o2775, 0o1777), fc.integer({ min: 0, max: 0o7777 })),
    data: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
    linkname: fc.constantFrom(undefined, "../../etc/passwd", "/etc/passwd"),
  }).map((e) => (e.type === "file" || e.type === "contiguous-file" ? e : { ...e, data: undefined })),
  fc.record({
    name: fc.constantFrom(""),
    raw: fc.record({
      name: fc.constantFrom(...NAMES.filter(Boolean)),
      typeflag: fc.constantFrom("0", "5", "2", "1", "3", "4", "6", "7", "S", "L", "K", "x", "g", "V", "\0"),
      size: fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(2 ** 33 - 1, 511, 513)),
      dataBytes: fc.integer({ min: 0, max: 2048 }),
    }).map((h) => rawHeader(h)),
  }),
);

const FILES: TestFile[] = [
  { path: "uploads/a.txt", data: "hello\n" },
  { path: "uploads/d/b.bin", data: Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251)) },
  { path: "config/package.json", data: "{}\n" },
];

/** An archive to feed the extractor, built one of three ways. */
const caseArb = fc.oneof(
  // Random entries after a manifest that lists the plain files among them, so the success path is reachable.
  fc.record({ kind: fc.constant("entries" as const), entries: fc.array(entryArb, { maxLength: 6 }), withManifest: fc.boolean() }),
  // A valid archive with tar-level mutations (re-gzipped, so they reach the tar parser) or gzip-level ones.
  fc.record({
    kind: fc.constant("mutated" as const),
    level: fc.constantFrom("tar", "gz"),
    edits: fc.array(fc.record({ at: fc.nat(), op: fc.constantFrom("flip", "set", "cut", "insert"), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
  }),
);

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

async function build(c: Case, valid: { tar: Buffer; gz: Buffer }): Promise<Buffer | null> {
  if (c.kind === "entries") {
    const plain = c.entries.filter((e) => !e.raw && (e.type ?? "file") === "file" && e.name);
    const files = plain.map((e) => ({ path: e.name, data: e.data ?? "", mode: e.mode }));
    const head = c.withManifest ? backupEntries([], manifestFor(files)).slice(0, 2) : [];
    try {
      return gzipSync(await tarEntries([...head, ...c.entries]));
    } catch {
      return null; // tar-stream's pack refused the header (e.g. a name it cannot encode): nothing to feed
    }
  }
  const bytes = Buffer.from(c.level === "tar" ? valid.tar : valid.gz);
  let out = bytes;
  for (const e of c.edits) {
    const at = out.length ? e.at % out.length : 0;
    if (e.op === "flip") out[at] = out[at]! ^ (1 << (e.byte % 8));
    else if (e.op === "set") out[at] = e.byte;
    else if (e.op === "cut") out = out.subarray(0, at);
    else out = Buffer.concat([out.subarray(0, at), Buffer.from([e.byte]), out.subarray(at)]);
  }
  return c.level === "tar" ? gzipSync(out) : out;
}

/** Regular files and folders under dir; throws on anything else (a symlink, a device) found there. */
function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(path.join(dir, name));
    if (st.isDirectory()) out.push(...walk(path.join(dir, name), r));
    else if (st.isFile()) out.push(r);
    else throw new Error(`extract wrote a non-regular file: ${r}`);
  }
  return out;
}

describe("fault: extractor fuzz", () => {
  it(`random and mutated archives for ${FUZZ_MS / 1000} s: success inside staging, or a BackupError (~25 s)`, { timeout: FUZZ_MS + 60_000 }, async () => {
    const tar = await tarEntries(backupEntries(FILES));
    const valid = { tar, gz: await buildArchive(backupEntries(FILES)) };
    expect(gunzipSync(valid.gz).equals(tar)).toBe(true);
    const tally = { runs: 0, ok: 0, refused: 0, skipped: 0, other: 0 };
    const errors = new Map<string, number>();
    const started = Date.now();
    let failure: unknown;
    try {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const gz = await build(c, valid);
          if (!gz) return void tally.skipped++;
          tally.runs++;
          const parent = mkdtempSync(path.join(tmpdir(), "fault-fuzz-"));
          const staging = path.join(parent, "staging");
          try {
            let timer: NodeJS.Timeout | undefined;
            const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`extract hung for ${HANG_MS} ms`)), HANG_MS)));
            const outcome = await Promise.race([extractArchive(Readable.from([gz]), { stagingDir: staging }), hang]).then(
              (r) => ({ ok: true as const, r }),
              (e: unknown) => ({ ok: false as const, e }),
            ).finally(() => clearTimeout(timer));
            // Nothing beside staging, whatever happened.
            expect(readdirSync(parent).filter((n) => n !== "staging")).toEqual([]);
            expect(readdirSync(tmpdir()).includes("fuzz-evil")).toBe(false);
            if (!outcome.ok) {
              if (!(outcome.e instanceof BackupError)) throw outcome.e;
              tally.refused++;
              const kind = outcome.e.message.replace(/^extract archive: [^:]*: /, "").replace(/[0-9]+/g, "N").slice(0, 50);
              errors.set(kind, (errors.get(kind) ?? 0) + 1);
              return;
            }
            tally.ok++;
            const files = new Map(Object.values(outcome.r.manifest.components).flatMap((c) => c.files).map((f) => [f.path, f]));
            for (const rel of walk(staging)) {
              if (rel === "manifest.json" || rel === "RESTORE.txt") continue;
              const f = files.get(rel);
              expect(f, `${rel} written but not in the manifest`).toBeDefined();
              expect(createHash("sha256").update(readFileSync(path.join(staging, rel))).digest("hex")).toBe(f!.sha256);
            }
          } finally {
            rmSync(parent, { recursive: true, force: true });
          }
        }),
        { seed: SEED, numRuns: 1_000_000, interruptAfterTimeLimit: FUZZ_MS, markInterruptAsFailure: false },
      );
    } catch (err) {
      failure = err;
    }
    tally.other = failure ? 1 : 0;
    const top = [...errors].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${n}x ${k}`);
    recordFault({
      suite: "extract-fuzz",
      fault: `fast-check, ${Math.round((Date.now() - started) / 1000)} s, seed ${SEED}`,
      trials: tally.runs,
      held: tally.runs - tally.other,
      lost: tally.other,
      note: `${tally.ok} extracted, ${tally.refused} refused; top: ${top.join("; ")}`,
    });
    if (failure) throw failure;
    expect(tally.runs).toBeGreaterThan(100);
    expect(tally.ok).toBeGreaterThan(0);
  });
});
