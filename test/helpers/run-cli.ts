// Runs the real CLI as a user would: a child process with a clean environment, its exit code and both output streams.
import { execFile } from "node:child_process";
import path from "node:path";

export const BIN = path.join(import.meta.dirname, "..", "..", "bin", "colab-backup.js");

export interface Run { code: number; stdout: string; stderr: string }

export function cli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env };
    execFile(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
