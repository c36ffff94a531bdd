// Bounds on work in flight: a byte budget for pieces read but not yet packed, an ordered map with a few lanes, a read order.

/** Bytes held at once; a request larger than the whole budget still passes when nothing else is held. */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { n: number; go: () => void }[] = [];

  constructor(readonly limit: number) {}

  async acquire(n: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(n)) {
      this.used += n;
      return;
    }
    // First come, first served: a big piece is not starved by a stream of small ones.
    await new Promise<void>((go) => this.waiting.push({ n, go }));
  }

  release(n: number): void {
    this.used -= n;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.n)) {
      const next = this.waiting.shift()!;
      this.used += next.n;
      next.go();
    }
  }

  private fits(n: number): boolean {
    return this.used === 0 || this.used + n <= this.limit;
  }
}

/**
 * `fn` over `items` with at most `lanes` running, results in item order. After the first failure no new item starts,
 * and the failure is thrown only once every started item has settled, so nothing keeps running behind the caller.
 */
export async function mapInOrder<T, R>(items: readonly T[], lanes: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
  if (failure) throw failure.err;
  return out;
}

/**
 * At most `size` tasks running across every caller sharing it, started first come, first served: the file components
 * of a backup run side by side yet read no more files at once than one of them alone would.
 */
export class Lanes {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.size && this.waiting.length === 0) this.running++;
    else await new Promise<void>((go) => this.waiting.push(go)); // the slot is handed over, not released and retaken
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/**
 * The indexes of `items` in the order to read them: those that `apart` picks (files stored raw by name, such as photos)
 * spread evenly among the rest. Read in walk order, a folder of photos came last: seconds of reading and packing with
 * the compression threads idle, where spread out they are read while the threads deflate the text around them.
 */
export function spreadOut<T>(items: readonly T[], apart: (item: T) => boolean): number[] {
  const picked: number[] = [];
  const rest: number[] = [];
  items.forEach((item, i) => (apart(item) ? picked : rest).push(i));
  const order: number[] = [];
  let p = 0;
  let r = 0;
  // Whichever list is further behind its share goes next: (p / picked) vs (r / rest), compared without division.
  while (p < picked.length || r < rest.length) {
    if (r >= rest.length || (p < picked.length && p * rest.length <= r * picked.length)) order.push(picked[p++]!);
    else order.push(rest[r++]!);
  }
  return order;
}
