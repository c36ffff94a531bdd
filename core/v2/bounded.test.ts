// Lanes: the shared bound that lets a backup's file components run side by side without reading more files at once.
import { describe, expect, it } from "vitest";
import { Lanes, spreadOut } from "./bounded.ts";

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

describe("spreadOut", () => {
  it("reads every item once, the picked ones spread evenly among the rest", () => {
    const items = [...Array.from({ length: 9 }, (_, i) => `doc${i}.md`), "a.jpg", "b.jpg", "c.jpg"];
    const order = spreadOut(items, (n) => n.endsWith(".jpg"));
    expect([...order].sort((a, b) => a - b)).toEqual(items.map((_, i) => i));
    const at = order.map((i) => items[i]!).flatMap((n, k) => (n.endsWith(".jpg") ? [k] : []));
    // Walk order had them last (9, 10, 11); spread, one falls in each quarter of the run.
    expect(at).toEqual([0, 4, 8]);
    expect(order.filter((i) => i < 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("keeps walk order when nothing or everything is picked", () => {
    expect(spreadOut(["a", "b", "c"], () => false)).toEqual([0, 1, 2]);
    expect(spreadOut(["a", "b", "c"], () => true)).toEqual([0, 1, 2]);
    expect(spreadOut([], () => true)).toEqual([]);
  });
});
