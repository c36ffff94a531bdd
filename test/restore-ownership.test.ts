// A CRM run by a non-root user, restored by root: every restored file and folder keeps the CRM user's owner and usable modes.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, lstatSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../core/backup.ts";
import { runRestore } from "../core/restore.ts";
import { dbContent, makeCrm, makeTestEngine, treeDigest } from "./helpers/crm.ts";

const CRM_UID = 65534; // nobody, present on every Linux
const CRM_GID = 65534;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("restore-ownership tests restore as root into a CRM owned by uid 65534; run them as root (CI does)");
});

/** Every file and folder under dir (dir itself as "."), with owner and permission bits. */
function owners(dir: string): Record<string, { uid: number; gid: number; mode: number; dir: boolean }> {
  const out: Record<string, { uid: number; gid: number; mode: number; dir: boolean }> = {};
  const walk = (rel: string) => {
    const st = lstatSync(path.join(dir, rel));
    out[rel || "."] = { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, dir: st.isDirectory() };
    if (st.isDirectory()) for (const name of readdirSync(path.join(dir, rel))) walk(rel ? `${rel}/${name}` : name);
  };
  walk("");
  return out;
}

/** Runs a shell command as the CRM's user. */
function asCrmUser(cwd: string, script: string) {
  const r = spawnSync("sh", ["-c", script], { cwd, uid: CRM_UID, gid: CRM_GID, encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("restore ownership and modes", () => {
  it("gives restored uploads, logs, config and database the owner and folder modes of what they replace, or of their root when new", async () => {
    const crm = makeCrm();
    const at = (rel: string) => path.join(crm.root, rel);
    chmodSync(crm.root, 0o755);
    execFileSync("chown", ["-R", `${CRM_UID}:${CRM_GID}`, crm.root]);
    chmodSync(at("uploads"), 0o775);
    chmodSync(at("uploads/media"), 0o755);
    chmodSync(at("uploads/deep"), 0o750);
    chmodSync(at("uploads/deep/nested"), 0o700);
    chmodSync(at("logs"), 0o750);
    chmodSync(at("logs/archive"), 0o755);
    const fileModes = { ...prefixed("uploads", treeDigest(at("uploads"))), ...prefixed("logs", treeDigest(at("logs"))) };
    const db = dbContent(crm.db);
    const engine = makeTestEngine(crm.root);
    const out = await runBackup(engine, { type: "manual" });
    if (out.skipped) throw new Error("unexpected skip");

    // Things change after the backup: folders disappear (restored as new), files are rewritten or removed.
    rmSync(at("uploads/deep"), { recursive: true });
    writeFileSync(at("uploads/a.txt"), "rewritten");
    rmSync(at("logs/archive"), { recursive: true });
    rmSync(at("package.json"));
    writeFileSync(at("prisma/schema.prisma"), "changed");

    await runRestore(engine, { backupId: out.manifest.id, components: ["database", "uploads", "config", "logs"], confirm: "CONFIRM_RESTORE" });

    const expectedDirModes: Record<string, number> = {
      uploads: 0o775, "uploads/media": 0o755, "uploads/deep": 0o775, "uploads/deep/nested": 0o775, // new folders: the root's mode
      logs: 0o750, "logs/archive": 0o750,
    };
    for (const component of ["uploads", "logs"]) {
      for (const [rel, st] of Object.entries(owners(at(component)))) {
        const name = rel === "." ? component : `${component}/${rel}`;
        expect({ name, uid: st.uid, gid: st.gid }).toEqual({ name, uid: CRM_UID, gid: CRM_GID });
        if (st.dir) expect({ name, mode: st.mode.toString(8) }).toEqual({ name, mode: expectedDirModes[name]?.toString(8) });
        else if (fileModes[name]) expect({ name, mode: st.mode.toString(8) }).toEqual({ name, mode: fileModes[name]!.mode.toString(8) });
      }
    }
    for (const f of ["package.json", "package-lock.json", "prisma/schema.prisma", ".env.example", "prisma/dev.db"]) {
      const st = lstatSync(at(f));
      expect({ f, uid: st.uid, gid: st.gid }).toEqual({ f, uid: CRM_UID, gid: CRM_GID });
    }
    for (const f of readdirSync(at("prisma")).filter((n) => n.startsWith("dev.db-"))) expect(lstatSync(at(`prisma/${f}`)).uid).toBe(CRM_UID);
    expect(dbContent(crm.db)).toEqual(db);

    // The CRM, running as its own user, can still read uploads and save new ones in restored folders.
    expect(asCrmUser(crm.root, "cat uploads/deep/nested/b.txt uploads/a.txt > /dev/null")).toMatchObject({ status: 0 });
    expect(asCrmUser(crm.root, "echo new > uploads/deep/nested/new.txt && echo new > uploads/new.txt && echo x >> logs/archive/error-2026-10-01.log")).toMatchObject({ status: 0, err: "" });
  });

  it("gives a database restored where there was none the owner of its folder", async () => {
    const crm = makeCrm(undefined, "delete");
    chmodSync(crm.root, 0o755);
    const engine = makeTestEngine(crm.root);
    const out = await runBackup(engine, { type: "manual", components: ["database"] });
    if (out.skipped) throw new Error("unexpected skip");
    execFileSync("chown", ["-R", `${CRM_UID}:${CRM_GID}`, crm.root]);
    rmSync(crm.db);

    await runRestore(engine, { backupId: out.manifest.id, components: ["database"], confirm: "CONFIRM_RESTORE" });
    expect(lstatSync(crm.db)).toMatchObject({ uid: CRM_UID, gid: CRM_GID });
    expect(asCrmUser(crm.root, `sqlite3 prisma/dev.db "INSERT INTO Deal (customerId, amount) VALUES (1, 1)"`)).toMatchObject({ status: 0, err: "" });
  });

  it("refuses, as the server's configuration (ConfigError: CLI exit 2, HTTP 503), a restore run by a user that cannot give files their live owner", () => {
    // The restore runs as the CRM's user (not root) while what it replaces belongs to root: lchown must fail with EPERM.
    const dir = makeCrm().root;
    chmodSync(dir, 0o755);
    const live = path.join(dir, "live");
    const staged = path.join(dir, "staged");
    execFileSync("mkdir", ["-p", live, staged]);
    writeFileSync(path.join(live, "a.txt"), "old");
    writeFileSync(path.join(staged, "a.txt"), "new");
    execFileSync("chown", ["-R", `${CRM_UID}:${CRM_GID}`, staged]);
    const script = `import { matchOwnership } from ${JSON.stringify(path.resolve("core/restore-ownership.ts"))};
      matchOwnership(${JSON.stringify(staged)}, ${JSON.stringify(live)}).then(() => console.log("no error"), (e) => console.log(e.constructor.name + ": " + e.message));`;
    const r = spawnSync(path.resolve("node_modules/.bin/tsx"), ["-e", script], { cwd: dir, uid: CRM_UID, gid: CRM_GID, encoding: "utf8", env: { ...process.env, HOME: dir } });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(
      `ConfigError: restore: cannot give restored files the owner 0:0 of what they replace in ${live} (EPERM); run the restore as root or as the user that owns ${live}`,
    );
    expect(lstatSync(path.join(live, "a.txt")).uid).toBe(0); // nothing live was touched
  });
});

function prefixed<T>(prefix: string, rec: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [`${prefix}/${k}`, v]));
}
