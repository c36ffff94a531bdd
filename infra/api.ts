// The HTTP API (API Gateway v2, $default to the Hono app on Lambda) and the dashboard (StaticSite of web/ with the API URL injected).
import { baseArgs, environments, type FunctionDeps } from "./functions.ts";

export interface ApiDeps extends Pick<FunctionDeps, "bucket" | "bus" | "email"> {
  statements: sst.aws.FunctionPermissionArgs[];
  jwtSecret?: sst.Secret;
}

export function apiAndDashboard({ bucket, bus, email, statements, jwtSecret }: ApiDeps) {
  // CORS is answered by the app itself (DASHBOARD_ORIGIN, api/app.ts), so API Gateway passes OPTIONS through.
  const api = new sst.aws.ApiGatewayV2("Api", { cors: false });

  /*
   * The dashboard is web/ as it is (no build step). Its web/config.js says `apiBase: ""` (same origin, for
   * `colab-backup serve`); here the API lives on another origin. The build command copies web/ to
   * .sst/dashboard and writes config.js there with the deployed API URL, which SST passes to the
   * command as COLAB_BACKUP_API_URL: web/ itself is never modified. See infra/build-dashboard.mjs.
   */
  const site = new sst.aws.StaticSite("Dashboard", {
    path: "web",
    build: { command: "node ../infra/build-dashboard.mjs", output: "../.sst/dashboard" },
    environment: { COLAB_BACKUP_API_URL: api.url },
  });

  const fn = new sst.aws.Function("ApiHandler", {
    ...baseArgs(environments({ bucket, bus, email, dashboardUrl: site.url }).Api),
    handler: "functions/api.handler",
    description: "colab-backup HTTP API (Hono), outside the VPC",
    // API Gateway gives up after 30 s; long work is a job on the bus, never done in the request.
    timeout: "29 seconds",
    memory: "1024 MB",
    // The only link: JwtSecret reaches the handler as Resource.JwtSecret.value (encrypted in the bundle), not as a plain
    // env var; runtime/aws.ts reads it. Everything else the handler needs is in its environment.
    link: jwtSecret ? [jwtSecret] : [],
    permissions: statements,
  });
  api.route("$default", fn.arn);

  return { api, site, fn };
}
