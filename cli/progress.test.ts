// Progress lines: bar, bytes, speed and ETA while running; time taken once done; one line kept per finished phase.
import { describe, expect, it } from "vitest";
import { formatDuration, progressBar, progressLine } from "./progress.ts";

const MiB = 1024 * 1024;

describe("progress", () => {
  it("shows bytes, speed and ETA while a phase runs, and the time taken when it ends", () => {
    const running = progressLine({ phase: "archive", done: 25 * MiB, total: 100 * MiB }, 5000, false);
    expect(running).toMatch(/^Archiving +\[#{5}\.{15}\]  25% +25\.0 MiB \/ 100\.0 MiB +5\.0 MiB\/s +ETA 15s$/);
    const finished = progressLine({ phase: "archive", done: 100 * MiB, total: 100 * MiB }, 20_000, true);
    expect(finished).toMatch(/\[#{20}\] 100% +100\.0 MiB \/ 100\.0 MiB +5\.0 MiB\/s +in 20\.0 s$/);
    expect(progressLine({ phase: "pre-restore", step: "archive", done: 1, total: 4 }, 1000, false)).toMatch(/^Backing up current data: archiving /);
    expect(progressLine({ phase: "swap", done: 1, total: 4 }, 1000, false)).toMatch(/1\/4 components +ETA 3s$/);
    expect(progressLine({ phase: "hash", done: 0, total: 0 }, 2500, false)).toMatch(/^Reading files +2\.5 s$/);
    // Unknown total but bytes counted (v2 stores as it reads): bytes and speed, no bar, no ETA.
    expect(progressLine({ phase: "archive", done: 3 * MiB, total: 0 }, 2000, true)).toMatch(/^Archiving +3\.0 MiB +1\.5 MiB\/s +done in 2\.0 s$/);
    expect(progressLine({ phase: "verify", done: 100, total: 1000 }, 3000, false)).toMatch(/ 33 B\/s +ETA 27s$/);
  });

  it("formats ETAs in seconds, minutes and hours", () => {
    expect([formatDuration(9.4), formatDuration(125), formatDuration(7260)]).toEqual(["9s", "2m05s", "2h01m"]);
  });

  it("draws nothing when not on a terminal, and keeps one line per finished phase when it is", () => {
    const written: string[] = [];
    const stream = { write: (s: string) => written.push(s), columns: 200 } as unknown as NodeJS.WriteStream;
    let now = 0;
    const quiet = progressBar(false, stream, () => now);
    quiet.update({ phase: "archive", done: 1, total: 2 });
    quiet.done();
    expect(written).toEqual([]);

    const bar = progressBar(true, stream, () => now);
    bar.update({ phase: "pre-restore", done: 0, total: 0 });
    now = 10;
    bar.update({ phase: "pre-restore", step: "archive", done: 0, total: 10 });
    now = 1010;
    bar.update({ phase: "pre-restore", step: "archive", done: 10, total: 10 });
    bar.update({ phase: "extract", done: 5, total: 10 });
    bar.done();
    const lines = written.join("").split("\n").map((l) => l.slice(l.lastIndexOf("\x1b[2K") + 4));
    // The announcement is replaced by the nested backup's step; each finished phase ends its line.
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^Backing up current data: archiving .*100% .*in 1\.0 s$/);
    expect(lines[1]).toMatch(/^Extracting .* 50% .*in 0\.0 s$/);
    expect(lines[2]).toBe("");
  });
});
