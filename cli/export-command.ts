// `colab-backup export <id|latest> [--output FILE|-]`: the standard .tar.gz of any backup, to a file or stdout.
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { latestBackup, readManifest } from "../core/catalog.ts";
import { ValidationError } from "../core/errors.ts";
import { humanSize } from "../core/units.ts";
import { exportStream } from "../core/v2/export.ts";
import type { Command, CommandInput } from "./commands.ts";

export function exportCommand(backupIdArg: (input: CommandInput, command: string, allowLatest?: boolean) => string): Command<{ arg: string; output?: string }> {
  return {
    options: { output: { type: "string" } },
    parse(input) {
      const output = input.values.output as string | undefined;
      if (output === "") throw new ValidationError("--output must be a file name, or - for standard output");
      return { arg: backupIdArg(input, "export", true), output };
    },
    async run(ctx, { arg, output }) {
      const storage = ctx.runtime.engine.storage;
      const id = arg === "latest" ? (await latestBackup(storage)).id : arg;
      const manifest = await readManifest(storage, id);
      let size = 0;
      const hash = createHash("sha256");
      const measure = new Transform({ transform(chunk: Buffer, _e, cb) { size += chunk.length; hash.update(chunk); cb(null, chunk); } });
      if (output === "-") {
        if (ctx.json) throw new ValidationError("export --output - writes the archive to standard output; it cannot be combined with --json");
        await pipeline(await exportStream(storage, manifest), measure, process.stdout, { end: false });
        return { json: null, text: "", quiet: true };
      }
      const file = path.resolve(output ?? `${id}.tar.gz`);
      // Written beside the target and renamed in, so a failed export never leaves a partial archive under its name.
      const temp = `${file}.${randomBytes(4).toString("hex")}.partial`;
      try {
        await pipeline(await exportStream(storage, manifest), measure, createWriteStream(temp, { flags: "wx" }));
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
      const sha256 = hash.digest("hex");
      return { json: { ok: true, id, file, sizeBytes: size, sha256 }, text: `Exported ${id} to ${file} (${humanSize(size)})\n  sha256    ${sha256}` };
    },
  };
}
