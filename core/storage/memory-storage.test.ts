// Runs the Storage contract against MemoryStorage, plus the few things only the memory store promises.
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./memory-storage.ts";
import { describeStorageContract } from "../../test/helpers/storage-contract.ts";

describeStorageContract("MemoryStorage", async () => ({ storage: new MemoryStorage(), cleanup: async () => {} }));

describe("MemoryStorage", () => {
  it("hands out copies, so callers cannot change stored bytes", async () => {
    const s = new MemoryStorage();
    const body = Buffer.from("abc");
    await s.put("k", body);
    body[0] = 0x7a;
    const read = await s.getBuffer("k");
    read[1] = 0x7a;
    expect((await s.getBuffer("k")).toString()).toBe("abc");
  });

  it("reserves temp/ keys like the fs store", async () => {
    const s = new MemoryStorage();
    await expect(s.put("temp/x", "x")).rejects.toMatchObject({ code: "validation_error" });
  });
});
