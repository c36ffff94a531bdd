// The checks that let the export pass a stored gzip piece through: each one refuses what it exists to catch.
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { BlobRef } from "../manifest.ts";
import { sha256Hex } from "./blob-codec.ts";
import { checkedGzipMember } from "./export-members.ts";

const plain = Buffer.from("a piece of an uploaded document\n".repeat(500));
const member = gzipSync(plain);
const ref = (stored: Buffer, over: Partial<BlobRef> = {}): BlobRef =>
  ({ sha256: sha256Hex(plain), size: plain.length, pack: "data/packs/ab/ab.pack", offset: 0, length: stored.length, encoding: "gzip", ...over });

describe("checkedGzipMember", () => {
  it("returns the plaintext of a member the writer made", async () => {
    expect((await checkedGzipMember(member, ref(member), "uploads/doc.md")).equals(plain)).toBe(true);
  });

  it("refuses bytes after the member, which Node skips but GNU gzip would stop the whole export at", async () => {
    const stored = Buffer.concat([member, Buffer.alloc(4)]);
    await expect(checkedGzipMember(stored, ref(stored), "uploads/doc.md")).rejects.toThrow(/uploads\/doc\.md: 4 bytes follow its gzip member.*damaged/);
  });

  it("refuses a member that decodes to another size than the tar header promised", async () => {
    const short = gzipSync(plain.subarray(1));
    await expect(checkedGzipMember(short, ref(short), "uploads/doc.md")).rejects.toThrow(/decodes to \d+ bytes, the manifest records/);
    await expect(checkedGzipMember(member, ref(member, { size: 100 }), "uploads/doc.md")).rejects.toThrow(/more than its recorded 100 bytes/);
  });

  it("refuses a wrong length, a broken member and other content", async () => {
    await expect(checkedGzipMember(member.subarray(1), ref(member), "uploads/doc.md")).rejects.toThrow(/expected \d+; the store is damaged/);
    const flipped = Buffer.from(member);
    flipped[flipped.length - 6]! ^= 0xff; // inside the CRC-32 trailer
    await expect(checkedGzipMember(flipped, ref(flipped), "uploads/doc.md")).rejects.toThrow(/not a gzip member/);
    await expect(checkedGzipMember(member, ref(member, { sha256: "0".repeat(64) }), "uploads/doc.md")).rejects.toThrow(/SHA-256/);
  });
});
