// The deploy guard for better-sqlite3's binary: npm, run as SST runs it, hands prebuild-install the deployer's Node ABI, and the guard refuses exactly the deploys that would ship the wrong one.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LAMBDA_NODE_MAJOR, LAMBDA_RUNTIME, currentDeployer, nativeBuildProblem, refuseForeignNativeBuild, type Deployer } from "../infra/native-build.ts";
import { tempDir } from "./helpers/crm.ts";

const require = createRequire(import.meta.url);
const linux = (nodeVersion: string, env: Record<string, string> = {}): Deployer => ({ nodeVersion, env, platform: "linux", arch: "x64" });

describe("nativeBuildProblem", () => {
  it("accepts a deployer on the functions' Node major, whatever the minor", () => {
    expect(LAMBDA_RUNTIME).toBe(`nodejs${LAMBDA_NODE_MAJOR}.x`);
    expect(nativeBuildProblem(linux("22.12.0"))).toBeNull();
    expect(nativeBuildProblem(linux("22.21.1"))).toBeNull();
    expect(nativeBuildProblem({ ...linux("22.12.0"), platform: "darwin", arch: "arm64" })).toBeNull();
  });

  it("refuses another Node major, naming it, the functions' runtime and both fixes", () => {
    for (const v of ["20.20.2", "24.1.0", "18.20.4"]) {
      const problem = nativeBuildProblem(linux(v));
      expect(problem, v).toMatch(new RegExp(`^deploy: \`sst deploy\` runs on Node\\.js v${v.replaceAll(".", "\\.")}, .* built for Node\\.js ${v.split(".")[0]}; they run nodejs22\\.x`));
      expect(problem).toContain("deploy with Node.js 22 (e.g. `nvm use 22`), or run `npm_config_target=22.12.0 npx sst deploy`");
    }
  });

  it("goes by npm_config_target when it is set: it fixes a Node 20 deploy, and a wrong one spoils a Node 22 deploy", () => {
    expect(nativeBuildProblem(linux("20.20.2", { npm_config_target: "22.12.0" }))).toBeNull();
    expect(nativeBuildProblem(linux("22.12.0", { npm_config_target: "20.0.0" }))).toMatch(
      /^deploy: npm_config_target is "20\.0\.0", .* built for Node\.js 20; .*set npm_config_target to a Node\.js 22 version \(e\.g\. 22\.12\.0\) or unset it/,
    );
    expect(nativeBuildProblem(linux("22.12.0", { npm_config_target: "latest" }))).toContain("built for Node.js an unknown version");
  });

  it("refuses a runtime other than node, and compiling from source anywhere but Linux x64", () => {
    expect(nativeBuildProblem(linux("22.12.0", { npm_config_runtime: "electron" }))).toMatch(/npm_config_runtime is "electron".*unset npm_config_runtime/);
    expect(nativeBuildProblem(linux("22.12.0", { npm_config_runtime: "node" }))).toBeNull();
    const mac: Deployer = { nodeVersion: "22.12.0", env: { npm_config_build_from_source: "true" }, platform: "darwin", arch: "arm64" };
    expect(nativeBuildProblem(mac)).toMatch(/compile better-sqlite3 on this darwin-arm64 machine, .* not for the functions' linux-x64/);
    expect(nativeBuildProblem({ ...mac, env: { npm_config_build_from_source: "better-sqlite3" } })).not.toBeNull();
    expect(nativeBuildProblem({ ...mac, env: { npm_config_build_from_source: "false" } })).toBeNull();
    expect(nativeBuildProblem({ ...mac, platform: "linux", arch: "x64" })).toBeNull();
  });

  it("refuseForeignNativeBuild throws the problem, and is silent without one", () => {
    expect(() => refuseForeignNativeBuild(linux("20.20.2"))).toThrow(/^deploy: `sst deploy` runs on Node\.js v20\.20\.2/);
    expect(() => refuseForeignNativeBuild(linux("22.12.0"))).not.toThrow();
  });

  it("reads the deployer from the `node` on PATH, which is this test's own", () => {
    expect(currentDeployer({ PATH: process.env.PATH })).toEqual({ nodeVersion: process.versions.node, env: { PATH: process.env.PATH }, platform: process.platform, arch: process.arch });
  });
});

/**
 * SST's install step, reproduced: a bundle folder whose package.json depends on a stand-in for better-sqlite3 (a local
 * tarball, so no network), installed with exactly SST's flags. Its install script asks the real prebuild-install
 * (better-sqlite3's installer, as installed here) which binary it would fetch. Only the download itself is left out.
 */
function binaryNpmWouldFetch(env: Record<string, string>): { abi: string; platform: string; arch: string; url: string } {
  const dir = tempDir("native-build-");
  const bs3 = JSON.parse(readFileSync(require.resolve("better-sqlite3/package.json"), "utf8")) as { version: string; repository: unknown };
  const prebuildRoot = path.dirname(createRequire(require.resolve("better-sqlite3/package.json")).resolve("prebuild-install/package.json"));
  const out = path.join(dir, "fetch.json");
  const probe = path.join(dir, "probe");
  mkdirSync(probe);
  writeFileSync(path.join(probe, "package.json"), JSON.stringify({ name: "probe", version: "1.0.0", scripts: { install: "node probe.cjs" } }));
  writeFileSync(
    path.join(probe, "probe.cjs"),
    `const pkg = ${JSON.stringify({ name: "better-sqlite3", version: bs3.version, repository: bs3.repository })};
     const rc = require(${JSON.stringify(path.join(prebuildRoot, "rc.js"))})(pkg);
     const url = require(${JSON.stringify(path.join(prebuildRoot, "util.js"))}).getDownloadUrl({ ...rc, pkg });
     require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify({ abi: rc.abi, platform: rc.platform, arch: rc.arch, url }));`,
  );
  execFileSync("npm", ["pack", "--silent"], { cwd: probe });
  const bundle = path.join(dir, "bundle");
  mkdirSync(bundle);
  writeFileSync(path.join(bundle, "package.json"), JSON.stringify({ dependencies: { probe: `file:${path.join(probe, "probe-1.0.0.tgz")}` } }));
  // The flags of SST 4.17's pkg/runtime/node/build.go for an x86_64 function; audit and fund only keep npm off the network.
  execFileSync("npm", ["install", "--force", "--platform=linux", "--os=linux", "--arch=x64", "--cpu=x64"], {
    cwd: bundle,
    env: { PATH: process.env.PATH, HOME: dir, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false", ...env },
    stdio: "pipe",
  });
  return JSON.parse(readFileSync(out, "utf8"));
}

describe("what SST's npm install fetches, and the guard's verdict on it", () => {
  const lambdaAbi = require(createRequire(require.resolve("prebuild-install/package.json")).resolve("node-abi")).getAbi(`${LAMBDA_NODE_MAJOR}.0.0`, "node") as string;

  it("from this machine's Node: linux-x64 from SST's flags, but this Node's ABI, which the guard refuses unless it is Lambda's", () => {
    const fetched = binaryNpmWouldFetch({});
    expect(fetched).toMatchObject({ platform: "linux", arch: "x64", abi: process.versions.modules });
    expect(fetched.url).toContain(`-node-v${process.versions.modules}-linux-x64.tar.gz`);
    expect(lambdaAbi).toBe("127");
    expect(nativeBuildProblem(currentDeployer({ PATH: process.env.PATH })) === null).toBe(fetched.abi === lambdaAbi);
  });

  it("with npm_config_target set to a Node 22 release: Node 22's ABI for linux-x64, which the guard accepts", () => {
    const fetched = binaryNpmWouldFetch({ npm_config_target: "22.12.0" });
    expect(fetched).toMatchObject({ platform: "linux", arch: "x64", abi: lambdaAbi });
    expect(fetched.url).toMatch(/\/better-sqlite3-v[\d.]+-node-v127-linux-x64\.tar\.gz$/);
    expect(nativeBuildProblem(currentDeployer({ PATH: process.env.PATH, npm_config_target: "22.12.0" }))).toBeNull();
  });
});
