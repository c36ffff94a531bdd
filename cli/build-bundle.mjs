// Bundles the compiled CLI (dist/cli/main.js, from tsc) into a few files in dist/bundle/, which bin/colab-backup.js runs.
// Node loads ~230 ES modules for a command otherwise (ours and zod's), and resolving, reading and linking each costs more
// than compiling it: `list --json` started in 0.22 s from dist/cli/, 0.15 s bundled. Run by `npm run build` after tsc.
//
// - Split at the dynamic imports, so `serve`'s HTTP stack and the restore-only code load only when used, as before.
// - Packages that are native (better-sqlite3) or heavy and loaded lazily (the AWS SDK, hono, jose, nodemailer) stay
//   outside: they load from node_modules only when a command needs them (test/startup-imports.test.ts).
// - lock-beat-thread.js is an entry of its own, beside the chunks, where core/lock.ts looks for it.
// - Paths found from import.meta.url (package.json, web/) are two folders up from dist/bundle/, as from dist/cli/.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const OUTSIDE = ["better-sqlite3", "@aws-sdk", "@smithy", "@hono", "hono", "jose", "nodemailer"];
const external = OUTSIDE.flatMap((name) => (name.startsWith("@") ? [`${name}/*`] : [name, `${name}/*`]));

rmSync(`${root}dist/bundle`, { recursive: true, force: true });
await build({
  entryPoints: [`${root}dist/cli/main.js`, `${root}dist/core/lock-beat-thread.js`],
  outdir: `${root}dist/bundle`,
  entryNames: "[name]",
  chunkNames: "chunk-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external,
  // Bundled CommonJS packages (zod's are ESM; tar-stream's and croner's helpers are not) call require.
  banner: { js: 'import { createRequire as __colabRequire } from "node:module"; const require = __colabRequire(import.meta.url);' },
  // Whitespace and syntax only: names stay, so a stack trace still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
});
