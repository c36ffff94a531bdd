// `serve` as a real listening server in its own process: an endless chunked upload gets 413 without the server's memory growing, and the headers.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintAdminToken } from "../runtime/local-auth.ts";
import { dashboardCsp } from "../api/security-headers.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";

const BIN = path.join(import.meta.dirname, "..", "bin", "colab-backup.js");
const SECRET = "serve-hardening-secret-at-least-32-chars";
const MiB = 1024 * 1024;

let child: ChildProcess;
let url: string;

beforeAll(async () => {
  const cwd = tempDir("serve-hard-");
  child = spawn(process.execPath, [BIN, "serve", "--port", "0"], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, JWT_SECRET: SECRET, CRM_ROOT: makeCrm().root },
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c) => {
      out += c;
      const m = /dashboard and API on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code} before listening: ${out}`)));
  });
});

afterAll(async () => {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
});

/** The server process's peak resident memory (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]!;
  return Number(kb) * 1024;
}

/** Streams up to `total` bytes as a chunked body (no Content-Length), and stops sending as soon as the answer arrives. */
function chunkedUpload(target: string, token: string, total: number): Promise<{ status: number; body: string; sent: number; ms: number }> {
  const started = Date.now();
  const chunk = Buffer.alloc(64 * 1024, "x");
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(target, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        resolve({ status: res.statusCode!, body, sent, ms: Date.now() - started });
        req.destroy();
      });
    });
    req.on("error", (err) => (answered ? undefined : reject(err)));
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe("serve: request body limit", () => {
  it("answers a 50 MB chunked upload with 413 quickly, and the server's peak memory grows by nothing near the body's size", async () => {
    const token = await mintAdminToken(SECRET);
    // Warm up (routes, auth, lazy imports) so that what is measured is the upload alone.
    expect((await fetch(`${url}/api/backup/create`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: '{"type":"bogus"}' })).status).toBe(400);
    writeFileSync(`/proc/${child.pid}/clear_refs`, "5"); // resets VmHWM to the current RSS
    const before = peakRss(child.pid!);

    const res = await chunkedUpload(`${url}/api/backup/create`, token, 50 * MiB);

    const grew = peakRss(child.pid!) - before;
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: "payload_too_large", message: expect.stringContaining("64 KiB") } });
    expect(res.ms).toBeLessThan(5_000);
    expect(res.sent).toBeLessThan(50 * MiB); // answered before the client finished sending
    expect(grew).toBeLessThan(16 * MiB);
  });
});

describe("serve: security headers", () => {
  it("serves the dashboard's files with its CSP and no-framing headers, wherever they are served", async () => {
    for (const p of ["/", "/frontend/backup.html", "/js/app.js", "/style.css"]) {
      const res = await fetch(url + p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get("content-security-policy"), p).toBe(dashboardCsp());
      expect(res.headers.get("x-frame-options"), p).toBe("DENY");
      expect(res.headers.get("x-content-type-options"), p).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), p).toBe("no-referrer");
    }
  });

  it("answers an unknown /api path with the API's JSON 404 and headers, not the dashboard's", async () => {
    const res = await fetch(`${url}/api/nothing-here`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
  });
});

// Last in this file: it leaves 127.0.0.1 refused for a minute.
describe("serve: failed sign-in limit", () => {
  it("counts failures by the connection's address and answers 429 with Retry-After after 10", async () => {
    for (let i = 0; i < 10; i++) expect((await fetch(`${url}/api/backup`, { headers: { authorization: "Bearer not-a-jwt" } })).status).toBe(401);
    const res = await fetch(`${url}/api/backup`, { headers: { authorization: `Bearer ${await mintAdminToken(SECRET)}`, "x-forwarded-for": "192.0.2.1" } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(50);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/too many failed sign-ins from 127\.0\.0\.1/);
  });
});
