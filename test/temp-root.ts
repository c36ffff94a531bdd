// vitest globalSetup: every temp folder of a test run (the tests' own, and those of the CLIs and servers they start) is made
// inside one folder, removed when the run ends. Left in /tmp they were thousands of folders a run (24 GB on a day of runs).
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export default function setup(): () => void {
  const before = process.env.TMPDIR;
  const root = mkdtempSync(path.join(tmpdir(), "colab-tests-"));
  // As /tmp is (mkdtemp makes 0700): tests run commands as another user (nobody) that must reach their folders.
  chmodSync(root, 0o1777);
  // os.tmpdir() reads TMPDIR on every call, and the test workers and the processes they spawn inherit it.
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      // A disk-full test's tmpfs still mounted, say: say so, and leave it for a person rather than fail the run.
      process.stderr.write(`test temp folder ${root} not removed: ${(err as Error).message}\n`);
    }
  };
}
