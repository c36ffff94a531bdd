// The OpenAPI document: shared response shapes for route definitions, the bearer scheme, and the route that serves it.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { ZodType } from "zod";
import type { AppEnv } from "./deps.ts";
import { ErrorResponse } from "./schemas.ts";

export const SECURITY = [{ bearerAuth: [] }];

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input; `error.fields` names each field and what it expects",
  401: "Missing, malformed, expired or wrongly signed token",
  403: "The token is valid but not an ADMIN's",
  404: "No such backup or job",
  409: "Another backup, restore, delete or cleanup is running; `running` says which",
  413: "The body is larger than 64 KiB (a restore's, signed in: 1 MiB)",
  422: "The stored archive failed a safety or checksum check",
  429: "Too many failed sign-ins from this address; retry after `Retry-After` seconds",
  500: "The store holds something unreadable (`store_error`, naming the key), or a bug (`internal_error`; see the server log)",
  502: "The email was not sent",
  503: "The server is misconfigured (`config_error`), or the CRM's signing keys cannot be fetched",
};

export function json<T extends ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** Error responses for a route; 401, 403, 429, 500 and 503 apply to every admin route. */
export function errors(...statuses: number[]) {
  const out: Record<number, ReturnType<typeof json<typeof ErrorResponse>>> = {};
  for (const s of [...statuses, 401, 403, 429, 500, 503]) out[s] = json(ErrorResponse, ERROR_DESCRIPTIONS[s] ?? "Internal error; see the server log");
  return out;
}

const docRoute = createRoute({
  method: "get",
  path: "/api/openapi.json",
  tags: ["system"],
  summary: "This OpenAPI document",
  responses: { 200: { description: "OpenAPI 3.1 document", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
});

/** Call after every route is registered: the document is generated from the registry on each request. */
export function registerOpenApi(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A JWT issued by the CRM with role ADMIN and an exp claim",
  });
  const config = {
    openapi: "3.1.0",
    info: { title: "colab-backup admin API", version: "1.0.0", description: "Backups of the CO_LAB CRM: list, create, download, delete, restore, verify, cleanup, status." },
  };
  app.openapi(docRoute, (c) => c.json(app.getOpenAPI31Document(config), 200));
}
