// A restore's include list past the schema's limits gets its own 400 naming the field, not the generic 64 KiB 413: the
// restore route reads up to 1 MiB once the caller is signed in; past that its 413 names the include limits; other
// routes and unauthenticated callers keep the 64 KiB limit.
import { afterEach, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, MAX_RESTORE_BODY_BYTES } from "./body-limit.ts";
import { backupNow, makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

type Err = { error: { code: string; message: string; fields?: { path: string; message: string }[] } };
const body = (backupId: string, include: string[]) => JSON.stringify({ backupId, components: ["uploads"], confirmToken: "CONFIRM_RESTORE", include });
const post = (a: TestApi, route: string, text: string, headers: Record<string, string> = {}) =>
  a.call(route, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: text });

describe("POST /api/backup/restore with a long include list", () => {
  it("gets the include list's own 400 when the list is too long, even past the 64 KiB limit of other bodies", async () => {
    api = await makeTestApi();
    const id = await backupNow(api);
    // 1001 paths of 100 characters: about 100 kB, over the general limit; the useful answer is the list's limit.
    const tooMany = body(id, Array.from({ length: 1001 }, (_, i) => `uploads/${String(i).padStart(92, "x")}`));
    expect(Buffer.byteLength(tooMany)).toBeGreaterThan(MAX_BODY_BYTES);
    const res = await post(api, "/api/backup/restore", tooMany);
    expect(res.status).toBe(400);
    expect(((await res.json()) as Err).error.fields).toEqual([{ path: "include", message: expect.stringMatching(/at most 1000 paths/) }]);

    // A path over 1000 characters among 100 long ones (about 100 kB): the field that is too long is named.
    const long = Array.from({ length: 100 }, (_, i) => `uploads/${String(i).padStart(990, "y")}`);
    long[7] = `uploads/${"z".repeat(1000)}`;
    const res2 = await post(api, "/api/backup/restore", body(id, long));
    expect(res2.status).toBe(400);
    expect(((await res2.json()) as Err).error.fields).toContainEqual({ path: "include.7", message: expect.stringMatching(/at most 1000 characters/) });

    // A valid list of that size is read whole and checked against the backup: each path that matches nothing is named.
    const res3 = await post(api, "/api/backup/restore", body(id, Array.from({ length: 100 }, (_, i) => `uploads/${String(i).padStart(990, "w")}`)));
    expect(res3.status).toBe(400);
    const fields = ((await res3.json()) as Err).error.fields ?? [];
    expect(fields).toHaveLength(100);
    expect(fields[0]!.message).toMatch(/holds no file or folder/);
    expect((await api.runner.list()).map((j) => j.kind)).toEqual(["backup"]); // no restore job started
  });

  it("still refuses more than 1 MiB with a 413 that names the include limits, and keeps 64 KiB for everything else", async () => {
    api = await makeTestApi();
    const huge = body("manual-20261207T000000Z-000000", Array.from({ length: 1100 }, (_, i) => `uploads/${String(i).padStart(992, "v")}`));
    expect(Buffer.byteLength(huge)).toBeGreaterThan(MAX_RESTORE_BODY_BYTES);
    const res = await post(api, "/api/backup/restore", huge, { "content-length": String(Buffer.byteLength(huge)) });
    expect(res.status).toBe(413);
    const { error } = (await res.json()) as Err;
    expect(error.code).toBe("payload_too_large");
    expect(error.message).toMatch(/larger than the 1 MiB limit; .*at most 1000 paths of at most 1000 characters/);

    // Not signed in: the restore route reads nothing past the general limit before auth answers.
    const mid = body("manual-20261207T000000Z-000000", Array.from({ length: 200 }, (_, i) => `uploads/${String(i).padStart(992, "u")}`));
    expect(Buffer.byteLength(mid)).toBeGreaterThan(MAX_BODY_BYTES);
    const anon = await post(api, "/api/backup/restore", mid, { authorization: "Bearer nope", "content-length": String(Buffer.byteLength(mid)) });
    expect(anon.status).toBe(401);
    // Other routes: the same 100 kB is a 413 with the general message.
    const create = await post(api, "/api/backup/create", JSON.stringify({ description: "x".repeat(MAX_BODY_BYTES) }));
    expect(create.status).toBe(413);
    expect(((await create.json()) as Err).error.message).toMatch(/larger than the 64 KiB limit/);
  });
});
