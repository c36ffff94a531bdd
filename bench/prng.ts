// Deterministic randomness for the benchmark data: a seeded xorshift128 PRNG, random bytes, and varied CRM-like text.

/** xorshift128 (Marsaglia): fast, seedable, and identical on every run and machine. */
export class Rng {
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(seed: number) {
    // splitmix32 spreads a small seed over the four state words (none may be all zero).
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      return (t ^ (t >>> 16)) >>> 0;
    };
    this.x = next() || 1;
    this.y = next();
    this.z = next();
    this.w = next();
  }

  /** Next unsigned 32-bit value. */
  u32(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = (this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.w;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Log-uniform integer in [min, max]: many small values, a few large ones, like real file sizes. */
  logUniform(min: number, max: number): number {
    return Math.round(Math.exp(Math.log(min) + this.float() * (Math.log(max) - Math.log(min))));
  }

  /** Fills `buf` with pseudo-random bytes (incompressible for gzip). */
  fill(buf: Buffer): Buffer {
    const words = Math.floor(buf.length / 4);
    const view = new Uint32Array(buf.buffer, buf.byteOffset, words);
    for (let i = 0; i < words; i++) view[i] = this.u32();
    for (let i = words * 4; i < buf.length; i++) buf[i] = this.u32() & 0xff;
    return buf;
  }
}

const SYLLABLES = ["ka", "lo", "mi", "ren", "sa", "to", "vel", "ar", "in", "qu", "dor", "es", "ni", "pa", "ul", "bri", "co", "de", "fa", "gen", "ho", "ja", "ly", "mo", "ne", "or", "pi", "ro", "st", "tu", "va", "xe"];
const COMMON = ["the", "and", "to", "of", "a", "in", "for", "with", "on", "is", "we", "customer", "deal", "meeting", "follow", "up", "call", "email", "contract", "price", "quote", "team", "next", "week", "agreed", "sent", "review", "proposal", "budget", "renewal", "support", "invoice", "project", "phase", "signed", "pending", "discussed", "requested", "update", "demo"];

/** A vocabulary where a few words are very common and most are rare (Zipf-like), so text compresses like prose. */
export class TextGen {
  readonly words: string[];
  private readonly cumulative: Float64Array;
  readonly firstNames = ["Ada", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya", "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe"];
  readonly lastNames = ["Andersen", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau", "Nielsen", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Yilmaz", "Zhang"];
  readonly cities = ["Copenhagen", "Berlin", "Lisbon", "Oslo", "Warsaw", "Lyon", "Milan", "Tallinn", "Dublin", "Vienna", "Porto", "Ghent"];

  constructor(private readonly rng: Rng, vocabulary = 2000) {
    const words = [...COMMON];
    while (words.length < vocabulary) {
      const n = rng.int(1, 4);
      let w = "";
      for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
      words.push(w);
    }
    this.words = words;
    this.cumulative = new Float64Array(words.length);
    let sum = 0;
    for (let i = 0; i < words.length; i++) this.cumulative[i] = sum += 1 / Math.pow(i + 1, 1.1);
    for (let i = 0; i < words.length; i++) this.cumulative[i]! /= sum;
  }

  word(): string {
    const r = this.rng.float();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return this.words[lo]!;
  }

  /** Boilerplate: real CRM text repeats phrases ("Thanks for the call today."), which is what gzip feeds on. */
  private readonly pool: string[] = [];

  sentence(minWords = 5, maxWords = 18): string {
    if (this.pool.length >= 400 && this.rng.float() < 0.5) return this.pool[this.rng.int(0, this.pool.length - 1)]!;
    const s = this.freshSentence(minWords, maxWords);
    if (this.pool.length < 400) this.pool.push(s);
    return s;
  }

  private freshSentence(minWords: number, maxWords: number): string {
    const n = this.rng.int(minWords, maxWords);
    let s = this.word();
    s = s[0]!.toUpperCase() + s.slice(1);
    for (let i = 1; i < n; i++) s += (this.rng.float() < 0.08 ? ", " : " ") + (this.rng.float() < 0.05 ? String(this.rng.int(1, 9999)) : this.word());
    return s + (this.rng.float() < 0.1 ? "?" : ".");
  }

  paragraph(sentences = this.rng.int(2, 7)): string {
    const out: string[] = [];
    for (let i = 0; i < sentences; i++) out.push(this.sentence());
    return out.join(" ");
  }

  /** Text of about `chars` characters. */
  text(chars: number): string {
    let s = this.sentence();
    while (s.length < chars) s += " " + this.sentence();
    return s.slice(0, chars);
  }

  name(): string {
    return `${this.rng.pick(this.firstNames)} ${this.rng.pick(this.lastNames)}`;
  }

  company(): string {
    const w = this.words[this.rng.int(40, 600)]!;
    return `${w[0]!.toUpperCase()}${w.slice(1)} ${this.rng.pick(["ApS", "GmbH", "Ltd", "AS", "SA", "BV", "Inc", "Group", "Labs"])}`;
  }

  email(name: string, i: number): string {
    return `${name.toLowerCase().replace(/[^a-z]+/g, ".")}${i}@${this.words[this.rng.int(40, 400)]}.example`;
  }

  phone(): string {
    return `+45 ${this.rng.int(20, 99)} ${this.rng.int(10, 99)} ${this.rng.int(10, 99)} ${this.rng.int(10, 99)}`;
  }

  /** ISO time between 2024-01-01 and 2026-11-25, from the PRNG (never from the clock). */
  isoTime(): string {
    const start = Date.UTC(2024, 0, 1);
    const span = Date.UTC(2026, 10, 25) - start;
    return new Date(start + Math.floor(this.rng.float() * span)).toISOString();
  }

  amount(): string {
    return (this.rng.logUniform(100, 2_000_000) + this.rng.int(0, 99) / 100).toFixed(2);
  }
}
