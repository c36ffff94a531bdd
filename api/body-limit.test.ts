// The body limit through app.request: 413 in our error shape for a declared or a streamed (chunked) oversized body, read no further than the limit.
import { afterEach, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, MAX_RESTORE_BODY_BYTES } from "./body-limit.ts";
import { makeTestApi, type TestApi } from "../test/helpers/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.runner.idle();
  api = undefined;
});

/** A JSON body of exactly `size` bytes: a description padded to fit. */
function bodyOfSize(size: number): string {
  const frame = JSON.stringify({ description: "" });
  return JSON.stringify({ description: "x".repeat(size - frame.length) });
}

/** An endless body, as a chunked upload would be, counting what the server pulled from it. */
function endlessBody(chunkBytes = 16 * 1024): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new TextEncoder().encode("x".repeat(chunkBytes));
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => pulled };
}

async function expect413(res: Response, limit = "64 KiB"): Promise<void> {
  expect(res.status).toBe(413);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("payload_too_large");
  expect(body.error.message).toMatch(new RegExp(`^read request body: it is larger than the ${limit} limit; send a JSON body of at most ${limit}`));
  expect(res.headers.get("cache-control")).toBe("no-store");
}

describe("request body limit", () => {
  it("reads a body of exactly the limit, and refuses one byte more by its Content-Length", async () => {
    api = await makeTestApi();
    const atLimit = bodyOfSize(MAX_BODY_BYTES);
    expect(Buffer.byteLength(atLimit)).toBe(MAX_BODY_BYTES);
    const ok = await api.call("/api/backup/create", { method: "POST", headers: { "content-type": "application/json", "content-length": String(MAX_BODY_BYTES) }, body: atLimit });
    // Read and validated: the description is too long, which only a parsed body can tell.
    expect(ok.status).toBe(400);
    expect(await ok.text()).toContain("description: must be at most 500 characters");

    const over = bodyOfSize(MAX_BODY_BYTES + 1);
    await expect413(await api.call("/api/backup/create", { method: "POST", headers: { "content-type": "application/json", "content-length": String(MAX_BODY_BYTES + 1) }, body: over }));
  });

  it("refuses an endless body with no Content-Length after reading no more than the limit", async () => {
    api = await makeTestApi();
    const { stream, pulled } = endlessBody();
    const res = await api.call("/api/backup/create", { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
    await expect413(res);
    expect(pulled()).toBeLessThanOrEqual(MAX_BODY_BYTES + 2 * 16 * 1024);
    // The restore route's own limit (its include list may be long) holds the same way.
    const restore = endlessBody();
    const res2 = await api.call("/api/backup/restore", { method: "POST", headers: { "content-type": "application/json" }, body: restore.stream, duplex: "half" } as RequestInit);
    await expect413(res2, "1 MiB");
    expect(restore.pulled()).toBeLessThanOrEqual(MAX_RESTORE_BODY_BYTES + 2 * 16 * 1024);
  });

  it("answers 413 before authentication, so an oversized body is refused unread even without a token", async () => {
    api = await makeTestApi();
    const res = await api.app.request("/api/backup/create", { method: "POST", headers: { "content-type": "application/json", "content-length": "50000000" }, body: "{}" });
    await expect413(res);
  });

  it("leaves bodiless requests alone", async () => {
    api = await makeTestApi();
    expect((await api.call("/api/backup/create", { method: "POST" })).status).toBe(202);
  });
});
