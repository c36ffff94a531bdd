// The restore journal: a durable plan of every swap a restore makes, written and fsynced before the first change.
import { open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Config } from "./config.ts";
import { RestoreError, errorMessage } from "./errors.ts";
import { COMPONENTS } from "./manifest.ts";
import { syncDir } from "./storage/fs-storage.ts";

/** A file or folder swapped by rename: the live `target` moves to `aside`, then `staged` moves in. */
const PathStepSchema = z.object({
  kind: z.literal("path"),
  component: z.enum(COMPONENTS),
  target: z.string(),
  staged: z.string(),
  aside: z.string(),
  /** Where a cross-filesystem move copies to before its final rename. */
  near: z.string(),
  hadOriginal: z.boolean(),
  /** A live entry the backup does not hold: only moved aside (and dropped at the end); `staged` is unused. */
  remove: z.boolean().optional(),
});

/** The database, written through SQLite; `rollback` is a snapshot of the live one taken before (null: there was none). */
const DatabaseStepSchema = z.object({
  kind: z.literal("database"),
  component: z.literal("database"),
  live: z.string(),
  staged: z.string(),
  rollback: z.string().nullable(),
});

export const JournalSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  backupId: z.string(),
  components: z.array(z.enum(COMPONENTS)),
  actor: z.string(),
  jobId: z.string().optional(),
  preRestoreBackupId: z.string().optional(),
  startedAt: z.string(),
  pid: z.number().int(),
  host: z.string(),
  /** The private folder the archive is extracted into; removed when the journal ends either way. */
  staging: z.string(),
  /**
   * staging: nothing live has changed yet. swapping: components in `begun` may be partly swapped; roll them back.
   * committing: every swap is done; only cleanup was left, so finish it (roll forward).
   */
  phase: z.enum(["staging", "swapping", "committing"]),
  begun: z.array(z.enum(COMPONENTS)),
  /** Live folders the restore created for restored files (topmost only), written before they were: undo removes them while empty. */
  madeFolders: z.array(z.string()).optional(),
  steps: z.array(z.discriminatedUnion("kind", [PathStepSchema, DatabaseStepSchema])),
});

export type Journal = z.infer<typeof JournalSchema>;
export type PathStep = z.infer<typeof PathStepSchema>;
export type DatabaseStep = z.infer<typeof DatabaseStepSchema>;
export type SwapStep = Journal["steps"][number];

/** The folder next to the CRM's data where staging and the journal live (same filesystem, so swaps are renames). */
export function restoreRoot(config: Pick<Config, "crmRoot" | "paths">): string {
  return config.crmRoot ?? path.dirname(config.paths.uploads);
}

export function journalPath(config: Pick<Config, "crmRoot" | "paths">): string {
  return path.join(restoreRoot(config), ".colab-restore-journal.json");
}

/** Replaces the journal atomically and durably: temp file, fsync, rename, fsync of the folder. */
export async function writeJournal(file: string, journal: Journal): Promise<void> {
  const temp = `${file}.tmp`;
  const fh = await open(temp, "w", 0o600);
  try {
    await fh.writeFile(JSON.stringify(journal, null, 2) + "\n");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, file);
  await syncDir(path.dirname(file));
}

/** The unfinished journal, or null when none exists. An unreadable one stops everything: guessing could lose data. */
export async function readJournal(file: string): Promise<Journal | null> {
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    return JournalSchema.parse(JSON.parse(raw));
  } catch (err) {
    throw new RestoreError(
      `read restore journal ${file}: it is damaged (${errorMessage(err).split("\n")[0]}); an earlier restore was interrupted. ` +
        `Check the CRM's data by hand (the journal names the pre-restore backup), then delete the journal file`,
      false,
    );
  }
}

export async function removeJournal(file: string): Promise<void> {
  await rm(file, { force: true });
  await rm(`${file}.tmp`, { force: true });
  await syncDir(path.dirname(file));
}
