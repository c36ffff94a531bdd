// Counts the S3 requests a client sends, by operation, with the SDK's own middleware: what S3 bills, whichever layer sent them.
import type { S3Client } from "@aws-sdk/client-s3";

export interface RequestCounter {
  /** Requests per operation (PutObject, GetObject, HeadObject, ListObjectsV2, ...) since the last reset. */
  readonly byOperation: Record<string, number>;
  total(): number;
  reset(): void;
  /** "PutObject 3, HeadObject 2, ..." largest first. */
  describe(): string;
}

/** Adds a counting step to `client`; every attempt the SDK makes (retries included) is one request. */
export function countS3Requests(client: S3Client): RequestCounter {
  const byOperation: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = (context.commandName ?? "unknown").replace(/Command$/, "");
      byOperation[op] = (byOperation[op] ?? 0) + 1;
      return next(args);
    },
    // finalizeRequest runs below the retry step's loop: each attempt on the wire is counted.
    { step: "finalizeRequest", name: "colabCountRequests", priority: "low" },
  );
  return {
    byOperation,
    total: () => Object.values(byOperation).reduce((n, c) => n + c, 0),
    reset: () => { for (const k of Object.keys(byOperation)) delete byOperation[k]; },
    describe: () => Object.entries(byOperation).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ") || "none",
  };
}
