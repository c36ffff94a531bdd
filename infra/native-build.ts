// The Node.js the functions run on, and the deploy-time refusal when the native module SST installs for them would be built for another (pure, tested in test/aws-native-build.test.ts).
import { execFileSync } from "node:child_process";

/** The functions' runtime (infra/functions.ts) and its Node.js major: change them together. */
export const LAMBDA_RUNTIME = "nodejs22.x";
export const LAMBDA_NODE_MAJOR = 22;
/** An example release of that major, for the messages (any 22.x has the same ABI, 127). */
const EXAMPLE_TARGET = "22.12.0";

/*
 * Why a check is needed. better-sqlite3 is a native addon, so the functions list it in `nodejs.install` and SST 4.17
 * does not bundle it: it writes a package.json into each function's bundle folder and runs
 * `npm install --force --platform=linux --os=linux --arch=x64 --cpu=x64` there (pkg/runtime/node/build.go), with the
 * deployer's npm, hence the deployer's Node. better-sqlite3's install script is `prebuild-install || node-gyp rebuild`.
 * prebuild-install takes the platform and CPU from those flags (npm hands them on as npm_config_platform/arch), but the
 * Node ABI from npm_config_target, else from the Node it runs on. Deployed from Node 20 it fetches the node-v115 build;
 * nodejs22.x needs ABI 127, and the function fails at its first `new Database` ("compiled against a different Node.js
 * version"), long after `sst deploy` reported success. test/aws-native-build.test.ts shows this with npm and
 * prebuild-install as installed here.
 */

export interface Deployer {
  /** The Node.js version SST's `npm install` runs on: the `node` on the deployer's PATH (npm's `#!/usr/bin/env node`). */
  nodeVersion: string;
  /** The deployer's environment: npm passes npm_config_* on to install scripts. */
  env: Record<string, string | undefined>;
  /** process.platform and process.arch of the deployer's machine. */
  platform: string;
  arch: string;
}

const major = (version: string) => Number(/^v?(\d+)\./.exec(version.trim())?.[1] ?? NaN);

/** Why the better-sqlite3 binary SST would install cannot load on LAMBDA_RUNTIME, with the fix; null when it can. */
export function nativeBuildProblem({ nodeVersion, env, platform, arch }: Deployer): string | null {
  const runtime = env.npm_config_runtime?.trim();
  if (runtime && runtime !== "node") {
    return `deploy: npm_config_runtime is "${runtime}", so better-sqlite3 would be installed for ${runtime}, not for the functions' ${LAMBDA_RUNTIME}; unset npm_config_runtime for \`sst deploy\``;
  }
  const target = env.npm_config_target?.trim();
  const targetMajor = major(target || nodeVersion);
  if (targetMajor !== LAMBDA_NODE_MAJOR) {
    const source = target ? `npm_config_target is "${target}"` : `\`sst deploy\` runs on Node.js ${nodeVersion.replace(/^v?/, "v")}`;
    const fix = target
      ? `set npm_config_target to a Node.js ${LAMBDA_NODE_MAJOR} version (e.g. ${EXAMPLE_TARGET}) or unset it and deploy with Node.js ${LAMBDA_NODE_MAJOR}`
      : `deploy with Node.js ${LAMBDA_NODE_MAJOR} (e.g. \`nvm use ${LAMBDA_NODE_MAJOR}\`), or run \`npm_config_target=${EXAMPLE_TARGET} npx sst deploy\` so that npm fetches better-sqlite3's prebuilt binary for Node.js ${LAMBDA_NODE_MAJOR} on linux-x64`;
    return (
      `deploy: ${source}, so SST's npm install would give the functions better-sqlite3 built for Node.js ${Number.isNaN(targetMajor) ? "an unknown version" : targetMajor}; ` +
      `they run ${LAMBDA_RUNTIME} (Node.js ${LAMBDA_NODE_MAJOR}), where it fails to load as soon as a backup or restore opens the database; ${fix}`
    );
  }
  const fromSource = env.npm_config_build_from_source?.trim();
  if ((fromSource === "true" || fromSource === "better-sqlite3") && (platform !== "linux" || arch !== "x64")) {
    // node-gyp compiles for the machine it runs on; npm's --platform/--arch flags do not cross-compile.
    return (
      `deploy: npm_config_build_from_source asks node-gyp to compile better-sqlite3 on this ${platform}-${arch} machine, ` +
      `which builds it for ${platform}-${arch}, not for the functions' linux-x64; unset npm_config_build_from_source, or deploy from Linux x64`
    );
  }
  return null;
}

/** The deployer as SST's npm install will see it: the `node` on PATH (not necessarily the one evaluating sst.config.ts). */
export function currentDeployer(env: Record<string, string | undefined> = process.env): Deployer {
  let nodeVersion = process.versions.node;
  try {
    nodeVersion = execFileSync("node", ["-p", "process.versions.node"], { encoding: "utf8", env: env as NodeJS.ProcessEnv, timeout: 10_000 }).trim();
  } catch {
    // No `node` on PATH: then npm cannot run either, and SST's install fails loudly on its own; check this process instead.
  }
  return { nodeVersion, env, platform: process.platform, arch: process.arch };
}

/** Stops `sst deploy` before anything is built when the native module would not load on Lambda. */
export function refuseForeignNativeBuild(deployer: Deployer = currentDeployer()): void {
  const problem = nativeBuildProblem(deployer);
  if (problem) throw new Error(problem);
}
