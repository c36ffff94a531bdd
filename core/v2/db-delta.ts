// The database's changed pieces stored as page patches on the previous backup's pieces, when few pages changed.
import { DATABASE_ENTRY, type BlobRef, type FileEntryV2, type PagePatch } from "../manifest.ts";
import type { Storage } from "../storage/storage.ts";
import { DB_CHUNK_SIZE } from "./blob-codec.ts";
import type { BlobStore, PieceSubstitute } from "./blob-store.ts";
import { baseOf, decodeDbPieceWithBase, deflatePage, isPatched } from "./db-pieces.ts";
import { PackReader } from "./reader.ts";
import { Lanes } from "./bounded.ts";
import type { StoreIndex } from "./store-index.ts";

/**
 * A piece is patched while at most this many of its pages differ from its base; past that it is stored whole again (a
 * rebase). Measured on the bench database over 10 days of bench/churn.ts (4 KiB pages, 8 to a piece): 2, 4 and 8 pages
 * all added 1.5 MB a day against 5.8 MB for whole pieces; 4 keeps the patch list short (about 640 live patches after
 * 10 days) without rebasing much more often than 8 (which never rebased but kept 1,700 patches). Measured with 32 KiB
 * pieces; with 64 KiB ones (16 pages) and 4, the bench store after 30 daily backups was 1.365x the first, as before.
 */
const MAX_PATCHED_PAGES = 4;
/**
 * A page changed again is deflated against its previous version (the page as the previous backup had it), its patch
 * appended to that page's earlier ones (a chain), while the chain is shorter than this and the link is smaller than the
 * page deflated against the base's page; else the page starts over as one patch against the base. On the bench's daily
 * churn ~90% of a day's changed pages were changed before: against an ever older base their patches grew from 0.4 KB
 * to ~2 KB, against yesterday's page they stay ~0.4 KB. The cap bounds a piece's patches (and inflates) at
 * MAX_PATCHED_PAGES * MAX_PAGE_CHAIN; readers refuse more than PAGE_CHAIN_LIMIT of one page.
 */
const MAX_PAGE_CHAIN = 8;
/**
 * A bundle is stored at DB_CHUNK_SIZE (64 KiB) or at this many pages, whichever comes first. Every piece waiting for
 * its bundle holds its share of the BlobStore's byte budget (at least 128 pieces' worth), and the snapshot is not read
 * further while the budget is spent: with pages that deflate to a few bytes, 64 KiB alone would wait for more pieces
 * than the budget lets in, and the backup would stop (test/v2-db-patches.test.ts, "hundreds of tiny page changes").
 */
const BUNDLE_MAX_PAGES = 64;

/**
 * Previous pieces read back at once. Each is read by its own range (a day's ~420 changed pieces sit in packs shared
 * with the uploads, so whole packs meant ~100 MB read a day) and only this many at a time: with every changed piece
 * reading at once, a bench daily backup peaked ~150 MiB higher and took twice as long.
 */
const READ_LANES = 8;

/**
 * The previous backup's database record when its pieces can serve as bases: the newest v2 backup's, every blob present,
 * all pieces whole DB_CHUNK_SIZE but the last (so piece i starts at byte i * DB_CHUNK_SIZE), and pages that fit in a
 * piece. A store written with another piece size (32 KiB before) has none: its next backup stores the database whole.
 */
export function previousDatabase(index: StoreIndex, pageSize: number): FileEntryV2 | null {
  if (!Number.isInteger(pageSize) || pageSize < 512 || pageSize > DB_CHUNK_SIZE || DB_CHUNK_SIZE % pageSize !== 0) return null;
  const f = index.previousManifest?.components.database?.files.find((x) => x.path === DATABASE_ENTRY);
  if (!f || f.blobs.length === 0) return null;
  if (f.blobs.slice(0, -1).some((b) => b.size !== DB_CHUNK_SIZE) || !f.blobs.every(index.present)) return null;
  return f;
}

/**
 * For each changed piece of the new snapshot: the previous backup's piece at the same place is read back (its base and
 * patches, checked), and when at most MAX_PATCHED_PAGES pages of the new piece differ from that base, the piece is
 * recorded as the base plus those pages. Pages already patched with the same bytes keep their patch; each new page is
 * deflated with the base's page at its place as the preset dictionary (a changed page is mostly its old bytes), and the
 * day's deflated pages are concatenated into bundles of about DB_CHUNK_SIZE, stored raw like any piece.
 */
export class DbPatcher implements PieceSubstitute {
  private readonly reader: PackReader;
  private readonly lanes = new Lanes(READ_LANES);
  private group: { pages: Buffer[]; waiting: ((b: { bundle: BlobRef; pages: number } | Error) => void)[]; bytes: number } = { pages: [], waiting: [], bytes: 0 };
  readonly stats = { patched: 0, pagesAdded: 0, rebased: 0, unreadable: 0 };
  private inFlight = 0;
  private ended = false;

  constructor(storage: Storage, private readonly blobs: BlobStore, private readonly previous: FileEntryV2, private readonly pageSize: number) {
    this.reader = new PackReader(storage, 0, true);
  }

  piece(index: number, sha: string, plain: Buffer): Promise<BlobRef | null> | null {
    const prev = this.previous.blobs[index];
    if (!prev || prev.size !== DB_CHUNK_SIZE || plain.length !== DB_CHUNK_SIZE) return null;
    // The new plaintext is the BlobStore's read buffer, reused once the promise settles: what it needs is read first.
    return this.patch(prev, sha, plain);
  }

  private async patch(prev: BlobRef, sha: string, plain: Buffer): Promise<BlobRef | null> {
    this.inFlight++;
    let decided: { ref: BlobRef | null | Promise<BlobRef> };
    try {
      decided = await this.diff(prev, sha, plain);
    } finally {
      this.inFlight--;
      if (this.ended && this.inFlight === 0) this.flush();
    }
    return decided.ref;
  }

  /** Wrapped, so the pages are in bundles when it resolves but the record may still wait for its bundles to be stored. */
  private async diff(prev: BlobRef, sha: string, plain: Buffer): Promise<{ ref: BlobRef | null | Promise<BlobRef> }> {
    let read: { plain: Buffer; base: Buffer };
    try {
      read = await this.lanes.run(() => decodeDbPieceWithBase(this.reader, prev, DATABASE_ENTRY));
    } catch {
      this.stats.unreadable++;
      return { ref: null }; // a previous piece that does not read back is no base: the piece is stored whole
    }
    const { plain: before, base } = read;
    const kept = new Map<number, PagePatch[]>();
    for (const p of isPatched(prev) ? prev.patches! : []) kept.set(p.at, [...(kept.get(p.at) ?? []), p]);
    const differing: number[] = [];
    for (let at = 0; at < DB_CHUNK_SIZE; at += this.pageSize) {
      if (plain.compare(base, at, at + this.pageSize, at, at + this.pageSize) !== 0) differing.push(at);
    }
    if (differing.length > MAX_PATCHED_PAGES) {
      this.stats.rebased++;
      return { ref: null };
    }
    const baseRef = baseOf(prev);
    if (differing.length === 0) return { ref: baseRef }; // back to the base's bytes exactly
    // Each new page deflated against the base's page at its place, and against its previous version when that extends
    // its chain (read before this returns: `plain` is reused after).
    const page = (buf: Buffer, at: number) => buf.subarray(at, at + this.pageSize);
    type Sized = { chain: PagePatch[] } | { chain: PagePatch[]; at: number; deflated: Buffer };
    const sized = await Promise.all(differing.map(async (at): Promise<Sized> => {
      const chain = kept.get(at) ?? [];
      if (chain.length > 0 && plain.compare(before, at, at + this.pageSize, at, at + this.pageSize) === 0) return { chain };
      const [fresh, link] = await Promise.all([
        deflatePage(page(plain, at), page(base, at)),
        chain.length > 0 && chain.length < MAX_PAGE_CHAIN ? deflatePage(page(plain, at), page(before, at)) : null,
      ]);
      return link && link.length < fresh.length ? { chain, at, deflated: link } : { chain: [], at, deflated: fresh };
    }));
    const patches: Promise<PagePatch[]>[] = sized.map((p) => {
      if (!("deflated" in p)) return Promise.resolve(p.chain);
      this.stats.pagesAdded++;
      const { chain, at, deflated } = p;
      return this.add(deflated).then(({ bundle, from }) => [...chain, { at, size: this.pageSize, from, length: deflated.length, bundle }]);
    });
    this.stats.patched++;
    // Pages are all in a bundle now; inFlight drops in patch()'s finally, after which end() may flush the last one.
    return { ref: Promise.all(patches).then((p) => ({ ...baseRef, sha256: sha, base: baseRef.sha256, patches: p.flat() })) };
  }

  /**
   * Adds a deflated page to the open bundle; the bundle is stored once it holds DB_CHUNK_SIZE (or at `end`). The ref
   * is the PackWriter's own object (not a copy): its pack key is filled in when the pack is sealed.
   */
  private add(deflated: Buffer): Promise<{ bundle: BlobRef; from: number }> {
    const from = this.group.bytes;
    const got = new Promise<{ bundle: BlobRef; pages: number } | Error>((resolve) => this.group.waiting.push(resolve));
    this.group.pages.push(deflated);
    this.group.bytes += deflated.length;
    if (this.group.bytes >= DB_CHUNK_SIZE || this.group.pages.length >= BUNDLE_MAX_PAGES) this.flush();
    return got.then((r) => {
      if (r instanceof Error) throw r;
      return { bundle: r.bundle, from };
    });
  }

  private flush(): void {
    const { pages, waiting, bytes } = this.group;
    this.group = { pages: [], waiting: [], bytes: 0 };
    if (pages.length === 0) return;
    // Stored raw: the pages are deflated already (each against its own dictionary, so gzip would find nothing more).
    const plain = Buffer.concat(pages, bytes);
    this.blobs.storeBuffer(plain, "raw").then(
      (bundle) => waiting.forEach((w) => w({ bundle, pages: pages.length })),
      (err: unknown) => waiting.forEach((w) => w(err instanceof Error ? err : new Error(String(err)))),
    );
  }

  /** Closes the previous pieces' pack files (read in place on the fs store), once the reads in flight settle. */
  close(): Promise<void> {
    return this.reader.close();
  }

  /** No more pieces: the last bundle is stored once every piece still being compared has added its pages. */
  end(): void {
    this.ended = true;
    if (this.inFlight === 0) this.flush();
  }
}
