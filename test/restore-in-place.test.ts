// A v2 restore applied file by file in place: type conflicts (folder where the backup has a file, file where it needs a folder), extras, rollback.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { RestoreError } from "../core/errors.ts";
import { runRestore } from "../core/restore.ts";
import { makeCrm, makeTestEngine } from "./helpers/crm.ts";
import { holdDatabase, killHolders } from "./helpers/db-holder.ts";

afterEach(killHolders);

/** Every path under uploads (folders end in "/") with the content of files: the whole visible state. */
function tree(dir: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  const here = path.join(dir, rel);
  if (!existsSync(here)) return out;
  for (const name of readdirSync(here) as string[]) {
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(dir, r)).isDirectory()) Object.assign(out, { [`${r}/`]: "" }, tree(dir, r));
    else out[r] = readFileSync(path.join(dir, r), "utf8");
  }
  return out;
}

function shuffle(uploads: string): void {
  // A folder where the backup has a file, a file where the backup has a folder, an extra file in a folder of its own.
  rmSync(path.join(uploads, "keep-me.txt"));
  mkdirSync(path.join(uploads, "keep-me.txt", "inner"), { recursive: true });
  writeFileSync(path.join(uploads, "keep-me.txt", "inner", "x.txt"), "inside a folder that was a file");
  rmSync(path.join(uploads, "nest"), { recursive: true });
  writeFileSync(path.join(uploads, "nest"), "a file where a folder was");
  mkdirSync(path.join(uploads, "only-live", "deeper"), { recursive: true });
  writeFileSync(path.join(uploads, "only-live", "deeper", "extra.txt"), "not in the backup");
  writeFileSync(path.join(uploads, "same.txt"), "changed");
}

describe("v2 restore in place", () => {
  it("resolves type conflicts and drops extras, leaving exactly the backup's tree; a failed database step puts every path back", async () => {
    const crm = makeCrm();
    const uploads = path.join(crm.root, "uploads");
    rmSync(uploads, { recursive: true, force: true });
    mkdirSync(path.join(uploads, "nest", "deep"), { recursive: true });
    writeFileSync(path.join(uploads, "keep-me.txt"), "a file in the backup");
    writeFileSync(path.join(uploads, "nest", "deep", "n.txt"), "nested in the backup");
    writeFileSync(path.join(uploads, "same.txt"), "unchanged");
    const engine = makeTestEngine(crm.root, undefined, { BACKUP_FORMAT: "v2", BACKUP_DB_BUSY_TIMEOUT_MS: "300" });
    const backedUp = tree(uploads);
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("backup skipped");
    const id = out.manifest.id;

    shuffle(uploads);
    const changed = tree(uploads);
    const inode = statSync(path.join(uploads, "only-live", "deeper", "extra.txt")).ino;
    // The database step fails for real (a writer holds it past the busy timeout): everything swapped before it comes back.
    const { ask } = holdDatabase(crm.db);
    await ask({ op: "lock" });
    const err = await runRestore(engine, { backupId: id, components: ["uploads", "database"], confirm: "CONFIRM_RESTORE" }).catch((e) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect(err.rolledBack).toBe(true);
    expect(tree(uploads)).toEqual(changed);
    expect(statSync(path.join(uploads, "only-live", "deeper", "extra.txt")).ino).toBe(inode);
    await ask({ op: "unlock" });

    const ok = await runRestore(engine, { backupId: id, components: ["uploads"], confirm: "CONFIRM_RESTORE" });
    expect(tree(uploads)).toEqual(backedUp);
    expect(ok.staged).toMatchObject({ filesWritten: 3, filesReused: 0 });
    expect(readdirSync(crm.root).filter((n: string) => n.includes(".colab-"))).toEqual([]);
  });
});
