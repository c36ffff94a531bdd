import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.ts";
import { archiveKey, isBackupId, manifestKey, newBackupId, typeOfId } from "./ids.ts";

describe("backup ids", () => {
  it("encode type and UTC time and map to the store layout", () => {
    const id = newBackupId("pre-restore", new Date("2026-11-26T02:00:05.123Z"));
    expect(id).toMatch(/^pre-restore-20261126T020005Z-[0-9a-f]{6}$/);
    expect(typeOfId(id)).toBe("pre-restore");
    expect(archiveKey(id)).toBe(`pre-restore/${id}.tar.gz`);
    expect(manifestKey(id)).toBe(`pre-restore/${id}.json`);
  });

  it.each(["../etc/passwd", "daily-20261126T020005Z-zzzzzz", "hourly-20261126T020005Z-abcdef", "daily-20261126T020005Z-abcdef/../x", ""])(
    "rejects %j with a ValidationError",
    (bad) => {
      expect(isBackupId(bad)).toBe(false);
      expect(() => typeOfId(bad)).toThrow(ValidationError);
    },
  );
});
