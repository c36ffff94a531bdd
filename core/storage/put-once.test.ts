// putOnce: creates, accepts its own earlier write (a retried put whose response was lost), and never replaces other bytes.
import { describe, expect, it } from "vitest";
import { ObjectExistsError } from "../errors.ts";
import { MemoryStorage } from "./memory-storage.ts";
import { putOnce } from "./put-once.ts";

describe("putOnce", () => {
  it("creates the key, succeeds again with the same bytes, and refuses different ones without replacing", async () => {
    const s = new MemoryStorage();
    expect(await putOnce(s, "daily/a.json", '{"a":1}\n')).not.toBeNull();
    expect(await putOnce(s, "daily/a.json", '{"a":1}\n')).toBeNull();
    await expect(putOnce(s, "daily/a.json", '{"a":2}\n')).rejects.toBeInstanceOf(ObjectExistsError);
    expect((await s.getBuffer("daily/a.json")).toString()).toBe('{"a":1}\n');
  });
});
