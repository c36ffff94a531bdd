// Deterministic generator of a benchmark CRM folder (~500 MB at --scale 1): SQLite database, uploads, logs and config files.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { Rng, TextGen } from "./prng.ts";
import { buildDatabase } from "./generate-db.ts";

export const GENERATOR_VERSION = 2;
export const MARKER = ".bench-generated.json";
export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_DIR = path.join(BENCH_DIR, "data", "crm");
const MB = 1_000_000;
const CHUNK = 1 << 20;

export interface GenerateOptions {
  dir?: string;
  scale?: number;
  seed?: number;
  force?: boolean;
  log?: (line: string) => void;
}

export interface Generated {
  dir: string;
  scale: number;
  seed: number;
  reused: boolean;
}

/** Byte budgets at --scale 1; every one scales linearly. Uploads: 40% incompressible (photos, pdfs), 60% text-like. */
export const BUDGETS = { database: 100 * MB, photos: 90 * MB, pdfs: 60 * MB, documents: 225 * MB, logs: 20 * MB };

/** Creates the CRM at `dir` unless a marker with the same parameters says it is already there. */
export function generateCrm(options: GenerateOptions = {}): Generated {
  const dir = path.resolve(options.dir ?? DEFAULT_DIR);
  const scale = options.scale ?? 1;
  const seed = options.seed ?? 20261126;
  const log = options.log ?? (() => undefined);
  if (!(scale > 0 && scale <= 10)) throw new Error(`--scale must be a number in (0, 10]; got ${scale}`);
  const params = { generator: GENERATOR_VERSION, scale, seed };
  const markerPath = path.join(dir, MARKER);
  if (!options.force && existsSync(markerPath)) {
    const marker = JSON.parse(readFileSync(markerPath, "utf8")) as typeof params;
    if (marker.generator === params.generator && marker.scale === scale && marker.seed === seed) return { dir, scale, seed, reused: true };
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    // Only wipe what we made: a folder with our marker, or anything under bench/data.
    const ours = existsSync(markerPath) || path.relative(path.join(BENCH_DIR, "data"), dir).split(path.sep)[0] !== "..";
    if (!ours) throw new Error(`generate: ${dir} is not empty and has no ${MARKER}; refusing to replace it`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  log(`generating a ~${Math.round(Object.values(BUDGETS).reduce((a, b) => a + b, 0) * scale / MB)} MB CRM at ${dir} (scale ${scale}, seed ${seed})`);

  mkdirSync(path.join(dir, "prisma"), { recursive: true });
  const db = new Database(path.join(dir, "prisma", "dev.db"));
  try {
    buildDatabase(db, new Rng(seed), Math.round(BUDGETS.database * scale));
  } finally {
    db.close();
  }
  // A live WAL database has its -wal and -shm files beside it (a read-only open, like a backup's, leaves them too).
  const reader = new Database(path.join(dir, "prisma", "dev.db"), { readonly: true });
  reader.prepare(`SELECT count(*) FROM "User"`).get();
  reader.close();
  log(`  database done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  writeUploads(path.join(dir, "uploads"), new Rng(seed + 1), scale);
  log(`  uploads done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  writeLogs(path.join(dir, "logs"), new Rng(seed + 2), Math.round(BUDGETS.logs * scale));
  writeConfig(dir, new Rng(seed + 3));
  writeFileSync(markerPath, JSON.stringify({ ...params, generatedInSeconds: (Date.now() - started) / 1000 }, null, 2) + "\n");
  log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { dir, scale, seed, reused: false };
}

/** Writes `size` bytes to `file` in chunks of at most 1 MiB, never holding the whole file. */
export function writeChunked(file: string, size: number, chunk: (max: number, offset: number) => Buffer | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, "w");
  try {
    let written = 0;
    while (written < size) {
      const raw = chunk(Math.min(CHUNK, size - written), written);
      let buf = typeof raw === "string" ? Buffer.from(raw) : raw;
      if (buf.length === 0) throw new Error(`writeChunked: empty chunk for ${file}`);
      if (buf.length > size - written) buf = buf.subarray(0, size - written);
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
      written += buf.length;
    }
  } finally {
    closeSync(fd);
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function uploadPath(rng: Rng, root: string, kind: string, name: string): string {
  const year = rng.int(2023, 2026);
  const month = pad(rng.int(1, 12));
  return path.join(root, kind, String(year), month, `cust-${pad(rng.int(1, 20000), 5)}`, name);
}

function writeUploads(root: string, rng: Rng, scale: number) {
  const text = new TextGen(rng);
  const random = (rng2: Rng) => (max: number) => rng2.fill(Buffer.allocUnsafe(max));
  // Incompressible: camera photos and scanned PDFs (already-compressed formats).
  let n = 0;
  for (let left = BUDGETS.photos * scale; left > 0; n++) {
    const size = Math.min(left, rng.logUniform(20_000, 1_500_000));
    const header = Buffer.from("ffd8ffe000104a46494600010101004800480000", "hex");
    const fill = random(rng);
    writeChunked(uploadPath(rng, root, "photos", `IMG_${pad(n, 5)}.jpg`), size, (max, off) => (off === 0 ? Buffer.concat([header, fill(max)]) : fill(max)));
    left -= size;
  }
  for (let left = BUDGETS.pdfs * scale; left > 0; n++) {
    const size = Math.min(left, rng.logUniform(10_000, 1_000_000));
    const fill = random(rng);
    writeChunked(uploadPath(rng, root, "contracts", `contract-${pad(n, 5)}.pdf`), size, (max, off) => (off === 0 ? Buffer.concat([Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), fill(max)]) : fill(max)));
    left -= size;
  }
  // Compressible: notes, CSV exports, JSON records and archived e-mails.
  const kinds = ["notes", "exports", "records", "mail"] as const;
  for (let left = BUDGETS.documents * scale; left > 0; n++) {
    const size = Math.min(left, rng.logUniform(1_000, 400_000));
    const kind = rng.pick(kinds);
    const ext = { notes: "md", exports: "csv", records: "json", mail: "html" }[kind];
    writeChunked(uploadPath(rng, root, "documents", `${kind}-${pad(n, 5)}.${ext}`), size, (max, off) => documentChunk(kind, text, rng, max, off));
    left -= size;
  }
}

function documentChunk(kind: "notes" | "exports" | "records" | "mail", text: TextGen, rng: Rng, max: number, offset: number): string {
  const parts: string[] = [];
  let len = 0;
  const push = (s: string) => {
    parts.push(s);
    len += s.length;
  };
  if (offset === 0) {
    if (kind === "exports") push("id,name,email,company,city,phone,amount,stage,created_at,comment\n");
    if (kind === "mail") push(`<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${text.sentence(3, 8)}</title></head><body>\n`);
    if (kind === "notes") push(`# ${text.sentence(3, 9)}\n\n`);
  }
  while (len < max) {
    if (kind === "notes") push(rng.float() < 0.15 ? `\n## ${text.sentence(2, 6)}\n\n- ${text.sentence()}\n- ${text.sentence()}\n\n` : `${text.paragraph()}\n\n`);
    else if (kind === "exports") {
      const name = text.name();
      const id = rng.int(1, 999999);
      push(`${id},${name},${text.email(name, id)},${text.company()},${rng.pick(text.cities)},${text.phone()},${text.amount()},${rng.pick(["lead", "qualified", "proposal", "won", "lost"])},${text.isoTime()},"${text.sentence(3, 10)}"\n`);
    } else if (kind === "records") {
      const name = text.name();
      const id = rng.int(1, 999999);
      push(`{\n  "id": ${id},\n  "customer": { "name": "${name}", "email": "${text.email(name, id)}", "company": "${text.company()}" },\n  "createdAt": "${text.isoTime()}",\n  "tags": ["${text.word()}", "${text.word()}"],\n  "amount": ${text.amount()},\n  "summary": "${text.sentence()}"\n},\n`);
    } else push(`<div class="message"><p class="from">${text.name()} &lt;${text.email(text.name(), rng.int(1, 9999))}&gt;</p><p class="date">${text.isoTime()}</p>\n<p>${text.paragraph()}</p>\n<p>${text.paragraph(1)}</p></div>\n`);
  }
  return parts.join("");
}

function writeLogs(root: string, rng: Rng, budget: number) {
  const text = new TextGen(rng);
  const routes = ["/api/customers", "/api/deals", "/api/activities", "/api/auth/login", "/api/uploads", "/api/reports/pipeline", "/health"];
  const files: { rel: string; size: number; kind: "access" | "app" | "error" }[] = [];
  const days = 28;
  const perDay = budget * 0.85 / days;
  for (let d = 1; d <= days; d++) {
    const month = d <= 14 ? "2026-10" : "2026-11";
    const day = `${month}-${pad(((d - 1) % 14) + 10)}`;
    files.push({ rel: `rotated/${month}/access-${day}.log`, size: Math.round(perDay * 0.6), kind: "access" });
    files.push({ rel: `rotated/${month}/app-${day}.log`, size: Math.round(perDay * 0.35), kind: "app" });
    files.push({ rel: `rotated/${month}/error-${day}.log`, size: Math.round(perDay * 0.05), kind: "error" });
  }
  files.push({ rel: "access.log", size: Math.round(budget * 0.09), kind: "access" }, { rel: "app.log", size: Math.round(budget * 0.05), kind: "app" }, { rel: "error.log", size: Math.round(budget * 0.01), kind: "error" });
  for (const f of files) {
    let t = Date.UTC(2026, 9, 1) + rng.int(0, 50 * 86_400_000);
    writeChunked(path.join(root, f.rel), f.size, (max) => {
      const lines: string[] = [];
      let len = 0;
      while (len < max) {
        t += rng.int(1, 4000);
        const ts = new Date(t).toISOString();
        const line = f.kind === "access"
          ? `${ts} ${rng.pick(["GET", "GET", "GET", "POST", "PUT", "DELETE"])} ${rng.pick(routes)}/${rng.int(1, 20000)} ${rng.pick([200, 200, 200, 201, 204, 304, 400, 404, 500])} ${rng.int(1, 900)}ms ip=10.${rng.int(0, 3)}.${rng.int(0, 255)}.${rng.int(1, 254)} user=${rng.int(1, 60)} req=${rng.u32().toString(16)}\n`
          : f.kind === "app"
            ? `{"time":"${ts}","level":"${rng.pick(["info", "info", "info", "debug", "warn"])}","module":"${rng.pick(["deals", "customers", "auth", "mailer", "scheduler"])}","msg":"${text.sentence(3, 10)}","userId":${rng.int(1, 60)}}\n`
            : `${ts} ERROR ${text.sentence(4, 12)}\n    at ${text.word()} (/srv/crm/server/${text.word()}.js:${rng.int(1, 900)}:${rng.int(1, 80)})\n    at processTicksAndRejections (node:internal/process/task_queues:95:5)\n`;
        lines.push(line);
        len += line.length;
      }
      return lines.join("");
    });
  }
}

function writeConfig(dir: string, rng: Rng) {
  const deps: Record<string, string> = { "@prisma/client": "^5.22.0", express: "^4.21.1", jsonwebtoken: "^9.0.2", bcryptjs: "^2.4.3", multer: "^1.4.5-lts.1", nodemailer: "^6.9.16", winston: "^3.17.0", zod: "^3.23.8" };
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "colab-crm", version: "2.4.1", private: true, scripts: { start: "node server/index.js", migrate: "prisma migrate deploy" }, dependencies: deps, devDependencies: { prisma: "^5.22.0", vitest: "^2.1.5" } }, null, 2) + "\n");
  const text = new TextGen(rng);
  const packages: Record<string, unknown> = { "": { name: "colab-crm", version: "2.4.1", dependencies: deps } };
  for (let i = 0; i < 700; i++) {
    const name = `${text.word()}-${text.word()}${i}`;
    packages[`node_modules/${name}`] = { version: `${rng.int(0, 9)}.${rng.int(0, 30)}.${rng.int(0, 20)}`, resolved: `https://registry.npmjs.org/${name}/-/${name}.tgz`, integrity: `sha512-${rng.fill(Buffer.alloc(64)).toString("base64")}`, license: "MIT" };
  }
  writeFileSync(path.join(dir, "package-lock.json"), JSON.stringify({ name: "colab-crm", version: "2.4.1", lockfileVersion: 3, requires: true, packages }, null, 2) + "\n");
  writeFileSync(path.join(dir, "prisma", "schema.prisma"), `datasource db {\n  provider = "sqlite"\n  url      = "file:./dev.db"\n}\n\ngenerator client {\n  provider = "prisma-client-js"\n}\n\nmodel Customer {\n  id        Int        @id @default(autoincrement())\n  name      String\n  email     String?\n  company   String?\n  deals     Deal[]\n  activities Activity[]\n}\n\nmodel Deal {\n  id         Int      @id @default(autoincrement())\n  customerId Int\n  title      String\n  amount     Float\n  stage      String\n  customer   Customer @relation(fields: [customerId], references: [id])\n}\n\nmodel Activity {\n  id         Int      @id @default(autoincrement())\n  customerId Int\n  dealId     Int?\n  kind       String\n  subject    String\n  body       String\n  createdAt  DateTime\n  customer   Customer @relation(fields: [customerId], references: [id])\n}\n`);
  writeFileSync(path.join(dir, ".env.example"), "DATABASE_URL=file:./dev.db\nJWT_SECRET=change-me\nSMTP_HOST=\nPORT=3000\n");
  writeFileSync(path.join(dir, ".env"), "DATABASE_URL=file:./dev.db\nJWT_SECRET=bench-secret-never-backed-up\nPORT=3000\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { scale: { type: "string" }, dir: { type: "string" }, seed: { type: "string" }, force: { type: "boolean" } } });
  const out = generateCrm({ dir: values.dir, scale: values.scale === undefined ? 1 : Number(values.scale), seed: values.seed === undefined ? undefined : Number(values.seed), force: values.force, log: (l) => console.log(l) });
  if (out.reused) console.log(`${out.dir} already holds the scale ${out.scale} data (seed ${out.seed}); use --force to regenerate`);
}
