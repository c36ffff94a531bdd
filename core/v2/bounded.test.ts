// Lanes: the shared bound that lets a backup's file components run side by side without reading more files at once.
import { describe, expect, it } from "vitest";
import { Lanes } from "./bounded.ts";

/** A task that runs until its `finish` is called, recording when it started. */
function gatedTask(started: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return { finish, fn: async () => { started.push(name); await done; return name; } };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("Lanes", () => {
  it("runs at most its size at once across callers, the waiting ones first come, first served", async () => {
    const lanes = new Lanes(2);
    const started: string[] = [];
    const tasks = ["a1", "b1", "a2", "b2"].map((n) => gatedTask(started, n));
    const results = tasks.map((t) => lanes.run(t.fn));
    await tick();
    expect(started).toEqual(["a1", "b1"]);
    tasks[1]!.finish();
    await tick();
    expect(started).toEqual(["a1", "b1", "a2"]);
    tasks[0]!.finish();
    tasks[2]!.finish();
    tasks[3]!.finish();
    expect(await Promise.all(results)).toEqual(["a1", "b1", "a2", "b2"]);
  });

  it("frees the lane of a task that failed", async () => {
    const lanes = new Lanes(1);
    await expect(lanes.run(async () => { throw new Error("read failed"); })).rejects.toThrow("read failed");
    expect(await lanes.run(async () => "next")).toBe("next");
  });
});
