// The in-memory Storage for tests and dry runs: same key rules and semantics as the fs store, nothing touches disk.
import { Readable } from "node:stream";
import { ConflictError, NotFoundError, ObjectExistsError, ValidationError } from "../errors.ts";
import { clampRange, compareKeys, validateKey, validatePrefix } from "./fs-storage.ts";
import type { ObjectInfo, PutOptions, Storage } from "./storage.ts";

interface Entry {
  data: Buffer;
  modified: Date;
  version: string;
}

export class MemoryStorage implements Storage {
  readonly description: string;
  private readonly objects = new Map<string, Entry>();
  private counter = 0;
  /** Bumped by every put and delete. */
  private changes = 0;

  constructor(name = "memory") {
    this.description = `memory://${name}`;
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    // Read everything first: if the stream fails, the map was never touched, so nothing partial is visible.
    const data = await collect(body);
    if (opts.ifAbsent && this.objects.has(key)) throw new ObjectExistsError(`store "${key}" in memory: it exists, and it is written once; nothing was replaced`);
    if (opts.ifVersion !== undefined && this.objects.get(key)?.version !== opts.ifVersion) throw new ConflictError(`replace "${key}" in memory: it changed or went since it was read; nothing was replaced`);
    return this.store(key, data);
  }

  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    validateKey(key);
    // Check-and-set runs synchronously, so concurrent callers cannot interleave and exactly one wins.
    if (this.objects.has(key)) return false;
    this.store(key, Buffer.from(body));
    return true;
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const entry = this.entry(key);
    let data = entry.data;
    if (range) data = data.subarray(range.start, clampRange(key, range, data.length) + 1);
    // A byte stream (not object mode) with a private copy, like a file read.
    return Readable.from([Buffer.from(data)], { objectMode: false });
  }

  async getBuffer(key: string): Promise<Buffer> {
    return Buffer.from(this.entry(key).data);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    const entry = this.objects.get(key);
    return entry ? infoOf(key, entry) : null;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    validatePrefix(prefix);
    const out: ObjectInfo[] = [];
    for (const [key, entry] of this.objects) if (key.startsWith(prefix)) out.push(infoOf(key, entry));
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string, opts?: { ifVersion?: string }): Promise<boolean> {
    validateKey(key);
    const entry = this.objects.get(key);
    if (opts?.ifVersion !== undefined && entry?.version !== opts.ifVersion) return false;
    if (this.objects.delete(key)) this.changes++;
    return true;
  }

  /** Any put or delete changes it: exact, since every change goes through this object. */
  async listingToken(prefix: string): Promise<string | null> {
    validatePrefix(prefix);
    return String(this.changes);
  }

  async usage(prefix = ""): Promise<number> {
    return (await this.list(prefix)).reduce((sum, o) => sum + o.size, 0);
  }

  private store(key: string, data: Buffer): ObjectInfo {
    const entry = { data, modified: new Date(), version: String(++this.counter) };
    this.changes++;
    this.objects.set(key, entry);
    return infoOf(key, entry);
  }

  private entry(key: string): Entry {
    validateKey(key);
    const entry = this.objects.get(key);
    if (!entry) throw new NotFoundError(`no object "${key}" in ${this.description}`);
    return entry;
  }
}

async function collect(body: Readable | Buffer | string): Promise<Buffer> {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    if (typeof chunk === "string") chunks.push(Buffer.from(chunk, "utf8"));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    else throw new ValidationError(`storage streams must yield bytes or strings, got ${typeof chunk}`);
  }
  return Buffer.concat(chunks);
}

function infoOf(key: string, entry: Entry): ObjectInfo {
  return { key, size: entry.data.length, modified: entry.modified, version: entry.version };
}
