#!/usr/bin/env node
// Entry point for `npx colab-backup`: runs the compiled CLI in dist/ when it is newer than every source file, else the
// TypeScript sources through tsx, so a developer never runs stale code. `npm run build` (run by npm's prepare) writes dist/.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

// The AWS SDK warns on every S3 command that its 2027 releases will need Node 22. The versions this package installs run
// on Node 20 (README), so that notice is for the maintainers, not for an admin running a backup: the SDK's documented switch.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const root = fileURLToPath(new URL("..", import.meta.url));
const SOURCES = ["cli", "core", "api", "runtime"];
/** cli/build-bundle.mjs makes dist/bundle/: an edit to it makes the build stale as a source's does. */
const BUNDLER = "build-bundle.mjs";

/** When dist/ was last built completely (the build writes dist/.built after tsc succeeds), or -1 if it never was. */
function builtAt() {
  try {
    return statSync(`${root}dist/.built`).mtimeMs;
  } catch {
    return -1;
  }
}

/** True when some source file (or the bundler) changed after the last build: a handful of folders, about a millisecond of stats. */
function sourcesNewerThan(time) {
  for (const dir of SOURCES) {
    // An installed copy may ship without some source folders: nothing there can be newer than the build.
    if (!existsSync(`${root}${dir}`)) continue;
    for (const entry of readdirSync(`${root}${dir}`, { recursive: true, withFileTypes: true })) {
      const source = entry.name.endsWith(".ts") || entry.name === BUNDLER;
      if (entry.isFile() && source && statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs > time) return true;
    }
  }
  return false;
}

// COLAB_BACKUP_FROM_SOURCE=1 runs the sources even when dist/ is current (the start-up benchmark compares the two).
const built = process.env.COLAB_BACKUP_FROM_SOURCE === "1" ? -1 : builtAt();
if (built > 0 && !sourcesNewerThan(built)) {
  // The bundle (cli/build-bundle.mjs) starts ~0.08 s sooner than the ~230 modules of dist/cli/ it is made from.
  await import(existsSync(`${root}dist/bundle/main.js`) ? "../dist/bundle/main.js" : "../dist/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/main.ts");
}
