// A fault-injecting HTTP proxy for S3 tests: forwards to LocalStack, and by rule resets connections or answers 500/503/SlowDown.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { rng } from "./helpers.ts";

export type Fault = "reset" | "500" | "503" | "slowdown";

export interface Rule {
  /** HTTP methods the rule applies to, e.g. ["PUT"]. */
  methods: string[];
  /** Narrows the rule by query, e.g. (q) => q.has("partNumber") for multipart part uploads. */
  query?: (q: URLSearchParams) => boolean;
  /** Narrows the rule by request path, e.g. (p) => p.includes("/data/packs/") for v2 pack uploads. */
  path?: (p: string) => boolean;
  /** Faults used in turn for the requests the rule hits. */
  faults: Fault[];
  /** Hit the first N matching requests... */
  first?: number;
  /** ...or each matching request with this probability (seeded). */
  fraction?: number;
  /** With `fraction`: never fail one request (method + URL) more than this many times in a row, so SDK retries can win. */
  maxInARow?: number;
}

export interface ProxyStats {
  requests: number;
  injected: Record<Fault, number>;
}

const BODIES: Record<Exclude<Fault, "reset">, { status: number; code: string; message: string }> = {
  "500": { status: 500, code: "InternalError", message: "We encountered an internal error. Please try again." },
  "503": { status: 503, code: "ServiceUnavailable", message: "Service is unable to handle request." },
  slowdown: { status: 503, code: "SlowDown", message: "Please reduce your request rate." },
};

export class FaultProxy {
  readonly stats: ProxyStats = { requests: 0, injected: { reset: 0, "500": 0, "503": 0, slowdown: 0 } };
  private rules: { rule: Rule; hits: number; matched: number }[] = [];
  private inARow = new Map<string, number>();
  private random = rng(1);
  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(target: string): Promise<FaultProxy> {
    const upstream = new URL(target);
    let proxy: FaultProxy | undefined;
    const server = http.createServer((req, res) => proxy!.handle(req, res, upstream));
    // Idle keep-alive sockets from the SDK must not keep close() waiting.
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  /** Replaces the rules (and restarts their counters and the seeded PRNG). */
  setRules(rules: Rule[], seed = 1): void {
    this.rules = rules.map((rule) => ({ rule, hits: 0, matched: 0 }));
    this.inARow.clear();
    this.random = rng(seed);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pick(req: http.IncomingMessage): Fault | null {
    const url = new URL(req.url ?? "/", "http://x");
    const id = `${req.method} ${req.url}`;
    for (const r of this.rules) {
      if (!r.rule.methods.includes(req.method ?? "") || (r.rule.query && !r.rule.query(url.searchParams)) || (r.rule.path && !r.rule.path(url.pathname))) continue;
      r.matched++;
      const row = this.inARow.get(id) ?? 0;
      const hit =
        r.rule.first !== undefined
          ? r.matched <= r.rule.first
          : this.random() < (r.rule.fraction ?? 0) && row < (r.rule.maxInARow ?? Infinity);
      if (!hit) break;
      this.inARow.set(id, row + 1);
      return r.rule.faults[r.hits++ % r.rule.faults.length]!;
    }
    this.inARow.delete(id);
    return null;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, upstream: URL): void {
    this.stats.requests++;
    const fault = this.pick(req);
    if (fault === "reset") {
      this.stats.injected.reset++;
      req.socket.destroy();
      return;
    }
    if (fault) {
      this.stats.injected[fault]++;
      const b = BODIES[fault];
      // Read the body first, as S3 does, so the client sees the answer and not a broken pipe.
      req.resume();
      req.on("end", () => {
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${b.code}</Code><Message>${b.message}</Message><RequestId>fault-proxy</RequestId></Error>`;
        res.writeHead(b.status, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(xml) });
        res.end(xml);
      });
      return;
    }
    const headers = { ...req.headers };
    delete headers.expect; // this server already answered 100-continue
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on("error", () => req.socket.destroy());
    req.pipe(out);
  }
}
