// Start-up: the launcher runs compiled dist/ only when it is current, dist/ serves the dashboard, and no library warning repeats.
import { execFile, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { awsEnv } from "./localstack/config.ts";
import { makeCrm, tempDir } from "./helpers/crm.ts";
import { BIN, cli } from "./helpers/run-cli.ts";

const REPO = path.join(import.meta.dirname, "..");
const run = (file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [file, ...args], { cwd: opts.cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );

describe("the launcher, bin/colab-backup.js", () => {
  /** A copy of the launcher beside a fake dist/ and fake sources, each of which says which one ran. */
  function fixture() {
    const root = tempDir("launcher-");
    for (const dir of ["bin", "dist/cli", "cli", "core/deep", "api", "runtime"]) mkdirSync(path.join(root, dir), { recursive: true });
    copyFileSync(BIN, path.join(root, "bin/colab-backup.js"));
    symlinkSync(path.join(REPO, "node_modules"), path.join(root, "node_modules"));
    writeFileSync(path.join(root, "package.json"), '{"type":"module"}\n');
    const say = (what: string) => `console.log(${JSON.stringify(what)}, process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED);\n`;
    writeFileSync(path.join(root, "dist/cli/main.js"), say("dist"));
    writeFileSync(path.join(root, "cli/main.ts"), say("source"));
    for (const f of ["core/deep/x.ts", "api/y.ts", "runtime/z.ts"]) writeFileSync(path.join(root, f), "export {};\n");
    const at = (file: string, seconds: number) => utimesSync(path.join(root, file), seconds, seconds);
    for (const f of ["cli/main.ts", "core/deep/x.ts", "api/y.ts", "runtime/z.ts"]) at(f, 1_000_000);
    writeFileSync(path.join(root, "dist/.built"), "built\n");
    at("dist/.built", 2_000_000);
    return { root, at, launch: (env?: NodeJS.ProcessEnv) => run(path.join(root, "bin/colab-backup.js"), [], { cwd: root, env }) };
  }

  it("runs dist/ when it was built after every source, and the sources otherwise", async () => {
    const f = fixture();
    expect((await f.launch()).stdout).toBe("dist true\n");
    // The SDK's own switch for its Node 22 notice is set for whichever code runs.
    expect((await f.launch({ COLAB_BACKUP_FROM_SOURCE: "1" })).stdout).toBe("source true\n");
    f.at("core/deep/x.ts", 3_000_000); // a source edited after the build, deep in a folder
    expect((await f.launch()).stdout).toBe("source true\n");
    f.at("core/deep/x.ts", 1_000_000);
    expect((await f.launch()).stdout).toBe("dist true\n");
    f.at("api/y.ts", 3_000_000);
    expect((await f.launch()).stdout).toBe("source true\n");
    f.at("api/y.ts", 1_000_000);
    f.at("runtime/z.ts", 3_000_000); // the composition roots count as sources too
    expect((await f.launch()).stdout).toBe("source true\n");
  });

  it("runs the bundle in dist/bundle/ when there is one, and counts cli/build-bundle.mjs as a source", async () => {
    const f = fixture();
    mkdirSync(path.join(f.root, "dist/bundle"));
    writeFileSync(path.join(f.root, "dist/bundle/main.js"), `console.log("bundle", process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED);\n`);
    writeFileSync(path.join(f.root, "cli/build-bundle.mjs"), "// the bundler\n");
    f.at("cli/build-bundle.mjs", 1_000_000);
    expect((await f.launch()).stdout).toBe("bundle true\n");
    f.at("cli/build-bundle.mjs", 3_000_000); // the bundler edited after the build: the bundle is stale
    expect((await f.launch()).stdout).toBe("source true\n");
  });

  it("runs the sources while dist/ has never been completely built", async () => {
    const f = fixture();
    rmSync(path.join(f.root, "dist/.built"));
    expect((await f.launch()).stdout).toBe("source true\n");
  });
});

describe("the compiled CLI in dist/", () => {
  const newestSource = () =>
    Math.max(...["cli", "core", "api", "runtime"].flatMap((d) => readdirSync(path.join(REPO, d), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => statSync(path.join(e.parentPath, e.name)).mtimeMs)));
  beforeAll(() => {
    // npm's prepare builds it on install (CI has it); a developer's checkout may be stale, so build it as prepare would.
    const stamp = path.join(REPO, "dist/.built");
    if (!existsSync(stamp) || statSync(stamp).mtimeMs < newestSource()) execFileSync("npm", ["run", "build"], { cwd: REPO, stdio: "ignore" });
  }, 300_000);

  it("is current after the build, so the launcher runs it", () => {
    expect(statSync(path.join(REPO, "dist/.built")).mtimeMs).toBeGreaterThan(newestSource());
    expect(existsSync(path.join(REPO, "dist/cli/main.js"))).toBe(true);
  });

  it("prints the version and serves the dashboard's files from web/", async () => {
    const main = path.join(REPO, "dist/cli/main.js");
    const { version } = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8"));
    expect((await run(main, ["--version"], { cwd: tempDir("dist-version-") })).stdout).toContain(`colab-backup ${version}`);

    const child = spawn(process.execPath, [main, "serve", "--port", "0"], { cwd: tempDir("dist-serve-"), env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    try {
      await expect.poll(() => out, { timeout: 30_000 }).toMatch(/dashboard and API on (http:\/\/\S+)/);
      const url = /dashboard and API on (http:\/\/\S+)/.exec(out)![1];
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toBe(readFileSync(path.join(REPO, "web/index.html"), "utf8"));
      expect((await fetch(`${url}/frontend/backup.html`)).status).toBe(200);
      expect((await fetch(`${url}/js/app.js`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});

describe("library warnings", () => {
  const ls = inject("localstack");
  it("an S3 command prints no AWS SDK Node-version notice, which the SDK would print on this Node", async () => {
    const major = Number(process.versions.node.split(".")[0]);
    // The control: the SDK itself, without the launcher, warns on Node before 22.
    const controlErr = await new Promise<string>((resolve) =>
      execFile(process.execPath, ["--input-type=module", "-e", "const { S3Client } = await import('@aws-sdk/client-s3'); new S3Client({ region: 'us-east-1' });"], { cwd: REPO, env: { PATH: process.env.PATH } }, (_e, _o, stderr) => resolve(stderr)),
    );
    expect(controlErr.includes("NodeVersionSupportWarning")).toBe(major < 22);

    const env = { ...awsEnv(ls), BACKUP_STORAGE: "s3", BACKUP_S3_PREFIX: `warn-${randomBytes(4).toString("hex")}/`, CRM_ROOT: makeCrm().root };
    const cwd = tempDir("cli-warn-");
    for (const args of [["backup", "--components", "config"], ["list"], ["status"]]) {
      const r = await cli(args, { cwd, env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|Warning:/);
    }
  });
});
