// The benchmark's churn step (bench/churn.ts) is deterministic and changes what it says: the same day gives the same data.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { churnCrm } from "../bench/churn.ts";
import { generateCrm } from "../bench/generate.ts";
import { tempDir, treeDigest } from "./helpers/crm.ts";

const dump = (root: string) => execFileSync("sqlite3", [path.join(root, "prisma", "dev.db"), ".dump"]).toString();
const uploads = (root: string) => Object.entries(treeDigest(path.join(root, "uploads")));

describe("bench churn", () => {
  it("rewrites 1% of the uploads and changes rows the same way on two copies of the same data", () => {
    const a = generateCrm({ dir: path.join(tempDir("churn-a-"), "crm"), scale: 0.01 }).dir;
    const b = path.join(tempDir("churn-b-"), "crm");
    execFileSync("cp", ["-a", a, b]);
    const before = uploads(a);
    const rowsBefore = dump(a);
    const one = churnCrm(a, 1);
    expect(churnCrm(b, 1)).toEqual(one);
    expect(uploads(b)).toEqual(uploads(a));
    expect(dump(b)).toEqual(dump(a));

    const changed = uploads(a).filter(([p, d], i) => before[i]![0] === p && before[i]![1].sha256 !== d.sha256).length;
    expect(changed).toBe(one.uploadsChanged);
    expect(changed).toBe(Math.max(1, Math.round(before.length / 100)));
    expect(one.rowsUpdated).toBeGreaterThan(0);
    expect(one.rowsInserted).toBeGreaterThan(0);
    expect(dump(a)).not.toEqual(rowsBefore);
    // Another day changes other things.
    churnCrm(b, 2);
    expect(uploads(b)).not.toEqual(uploads(a));
  });
});
