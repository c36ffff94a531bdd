// The CLI's commands: each validates its flags, calls one core operation, and returns JSON and human output.
import type { ParseArgsConfig } from "node:util";
import { runBackup } from "../core/backup.ts";
import { latestBackup, listBackups, readManifest } from "../core/catalog.ts";
import type { BackupSummary } from "../core/catalog-scan.ts";
import { scanCatalog } from "../core/catalog-scan.ts";
import { deleteBackup, runCleanup } from "../core/cleanup.ts";
import { NotFoundError, ValidationError } from "../core/errors.ts";
import { healthVerdict } from "../core/health.ts";
import { isBackupId } from "../core/ids.ts";
import { BACKUP_TYPES, COMPONENTS, type BackupType, type ComponentName, type StoredManifest } from "../core/manifest.ts";
import type { Storage } from "../core/storage/storage.ts";
import { CONFIRM_TOKEN, checkRestoreRequest, runRestore } from "../core/restore.ts";
import { restoreIntoFolder, restoreWhere, type RestoreArgs } from "./restore-elsewhere.ts";
import { getStatus } from "../core/status.ts";
import { verifyBackup } from "../core/verify.ts";
import { formatBackupList, formatCleanupProblems, formatStatus, formatStoreProblems, formatVerify } from "./format.ts";
import { humanSize } from "../core/units.ts";
import { progressBar } from "./progress.ts";
import type { Runtime } from "../runtime/local.ts";
import { backupSha256, backupSizeBytes } from "../core/manifest.ts";
import { exportCommand } from "./export-command.ts";
import { diff, ls } from "./browse-commands.ts";
import { token } from "./token-command.ts";
import { backupSummary } from "./backup-json.ts";

/** What the command line said, before anything is touched. */
export interface CommandInput {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}
export interface CommandContext {
  runtime: Runtime;
  json: boolean;
  tty: boolean;
}
export interface CommandResult {
  json: unknown;
  text: string;
  exitCode?: number;
  /** The command already wrote stdout (e.g. an archive); print nothing more. */
  quiet?: boolean;
}
export interface Command<A = any> {
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Validates flags and arguments; throws ValidationError before any file is touched. */
  parse(input: CommandInput): A;
  run(ctx: CommandContext, args: A): Promise<CommandResult>;
}

function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !allowed.includes(value as T)) throw new ValidationError(`--${flag} must be one of ${allowed.join(", ")}; got "${String(value)}"`);
  return value as T;
}

function componentList(value: unknown, required: boolean): ComponentName[] | undefined {
  if (value === undefined) {
    if (required) throw new ValidationError(`--components is required: a comma-separated list from ${COMPONENTS.join(", ")}`);
    return undefined;
  }
  const list = String(value).split(",").map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new ValidationError(`--components must list at least one of ${COMPONENTS.join(", ")}`);
  for (const c of list) oneOf("components", c, COMPONENTS);
  return list as ComponentName[];
}

function backupIdArg(ctx: CommandInput, command: string, allowLatest = false): string {
  const [id, ...extra] = ctx.positionals;
  if (!id) throw new ValidationError(`${command} needs a backup id${allowLatest ? " or 'latest'" : ""}; run \`colab-backup list\` to see them`);
  if (extra.length) throw new ValidationError(`${command} takes one backup id; got also ${extra.join(" ")}`);
  if (!(allowLatest && id === "latest") && !isBackupId(id)) {
    throw new ValidationError(`"${id}" is not a backup id (they look like daily-20261126T020000Z-1a2b3c); run \`colab-backup list\``);
  }
  return id;
}

function noPositionals(ctx: CommandInput, command: string) {
  if (ctx.positionals.length) throw new ValidationError(`${command} takes no arguments; got ${ctx.positionals.join(" ")}`);
}

const backup: Command<{ type: BackupType; components?: ComponentName[]; description?: string; scheduledAt?: Date; rehash: boolean }> = {
  options: { type: { type: "string" }, description: { type: "string" }, components: { type: "string" }, "scheduled-at": { type: "string" }, rehash: { type: "boolean" } },
  parse(input) {
    noPositionals(input, "backup");
    const type = oneOf<BackupType>("type", input.values.type, ["daily", "weekly", "monthly", "manual"]) ?? "manual";
    const components = componentList(input.values.components, false);
    const description = input.values.description as string | undefined;
    if (description !== undefined && description.length > 500) throw new ValidationError("--description must be at most 500 characters");
    const at = input.values["scheduled-at"] as string | undefined;
    const scheduledAt = at === undefined ? undefined : new Date(at);
    if (scheduledAt && Number.isNaN(scheduledAt.getTime())) throw new ValidationError(`--scheduled-at must be an ISO 8601 time such as 2026-11-26T02:00:00Z; got "${at}"`);
    return { type, components, description, scheduledAt, rehash: input.values.rehash === true };
  },
  async run(ctx, { type, components, description, scheduledAt, rehash }) {
    const bar = progressBar(ctx.tty);
    // No progress callback off a terminal: the v2 writer then skips measuring the tree for the bar's total.
    const outcome = await runBackup(ctx.runtime.engine, { type, description, components, scheduledAt, rehash, actor: "cli", ...(ctx.tty ? { onProgress: bar.update } : {}) }).finally(bar.done);
    if (outcome.skipped) return { json: { ok: true, ...outcome, id: outcome.existingId }, text: `Skipped: ${outcome.reason} (backup ${outcome.existingId}).` };
    const m = outcome.manifest;
    const parts = Object.entries(m.components).map(([n, c]) => `  ${n.padEnd(9)} ${c.status === "included" ? `${c.fileCount} files, ${humanSize(c.totalSize)}` : `missing: ${c.note}`}`);
    return {
      json: { ok: true, skipped: false, id: m.id, durationMs: outcome.durationMs, manifest: backupSummary(m) }, // without per-file lists: MBs at CRM size
      text: `Backup ${m.id} complete and verified in ${(outcome.durationMs / 1000).toFixed(1)} s\n${parts.join("\n")}\n${m.formatVersion === 1
        ? `  archive   ${ctx.runtime.engine.storage.description}/${m.archive.key} (${humanSize(m.archive.sizeBytes)})\n  sha256    ${m.archive.sha256}`
        : `  stored    ${humanSize(m.stored.bytesAdded)} new in ${m.stored.packsAdded} packs (${m.stored.blobsAdded} blobs); ${humanSize(m.stored.referencedBytes)} referenced\n  files     ${m.stored.filesRead} read, ${m.stored.filesReused} unchanged (not read)\n  requests  ${m.stored.requests}`}`,
    };
  },
};

const list: Command<BackupType | undefined> = {
  options: { type: { type: "string" } },
  parse(input) {
    noPositionals(input, "list");
    return oneOf("type", input.values.type, BACKUP_TYPES);
  },
  async run(ctx, type) {
    const { backups, damaged, orphans, incomplete } = await scanCatalog(ctx.runtime.engine.storage, type);
    const summary = backups.map((m) => ({ id: m.id, type: m.type, description: m.description, createdAt: m.createdAt, sizeBytes: backupSizeBytes(m), sha256: backupSha256(m), format: m.formatVersion, components: Object.keys(m.components).filter((c) => m.components[c]?.status === "included") }));
    const problems = formatStoreProblems({ damaged, orphans, incomplete });
    // An empty filtered list is not an empty store: say which backups are missing and that others exist.
    const others = type && backups.length === 0 ? (await listBackups(ctx.runtime.engine.storage)).length : 0;
    const empty = type ? `No ${type} backups${others ? ` (${others} of other types; \`colab-backup list\` shows them)` : " yet"}.` : undefined;
    return { json: { ok: true, backups: summary, damaged, orphans, incomplete }, text: [formatBackupList(summary, empty), ...(problems ? [problems] : [])].join("\n\n") };
  },
};

const verify: Command<{ arg: string; quick: boolean }> = {
  options: { quick: { type: "boolean" } },
  parse: (input) => ({ arg: backupIdArg(input, "verify", true), quick: input.values.quick === true }),
  async run(ctx, { arg, quick }) {
    const id = arg === "latest" ? (await latestBackup(ctx.runtime.engine.storage)).id : arg;
    const bar = progressBar(ctx.tty);
    const report = await verifyBackup(ctx.runtime.engine, id, bar.update, { quick, actor: "cli" }).finally(bar.done);
    return { json: { ok: report.ok, report }, text: formatVerify(report), exitCode: report.ok ? 0 : 1 };
  },
};

const restore: Command<RestoreArgs> = {
  options: { components: { type: "string" }, confirm: { type: "string" }, target: { type: "string" }, include: { type: "string", multiple: true } },
  parse(input) {
    const id = backupIdArg(input, "restore", true);
    // Like restic, no list means everything: every component the backup holds, resolved once the manifest is read.
    const components = input.values.components === undefined || input.values.components === "all" ? "all" : componentList(input.values.components, true)!;
    const where = restoreWhere(input);
    const confirm = input.values.confirm;
    // --target changes nothing live, so it needs no confirmation; a --confirm given anyway must still be the right token.
    if (typeof confirm !== "string" && where.target === undefined) throw new ValidationError("restore replaces live data: add --confirm CONFIRM_RESTORE to go ahead, or --target DIR to restore into another folder");
    checkRestoreRequest({ components: components === "all" ? COMPONENTS : components, confirm: typeof confirm === "string" ? confirm : CONFIRM_TOKEN });
    return { id, components, confirm: typeof confirm === "string" ? confirm : "", ...where };
  },
  async run(ctx, { id: arg, components: asked, confirm, target, include }) {
    const { storage } = ctx.runtime.engine;
    const id = arg === "latest" ? (await newestRestorable(storage)).id : arg;
    // Name the backup `latest` stands for before the long part starts, while there is still time to stop it.
    if (arg === "latest" && !ctx.json) process.stderr.write(`restore latest: restoring from ${id}\n`);
    const components = asked === "all" ? includedComponents(await readManifest(storage, id)) : asked;
    if (target !== undefined) return restoreIntoFolder(ctx, { backupId: id, components, target, include, latest: arg === "latest" });
    const bar = progressBar(ctx.tty);
    // Progress only for a terminal, as for `backup`: given, the pre-restore backup also walks and stats every live file for its total.
    const outcome = await runRestore(ctx.runtime.engine, { backupId: id, components, confirm, include, actor: `cli:${process.env.USER ?? "unknown"}`, ...(ctx.tty ? { onProgress: bar.update } : {}) }).finally(bar.done);
    return {
      json: { ok: true, ...outcome, ...(include ? { include } : {}) },
      text: `Restored ${include ? `${include.join(", ")} (${outcome.components.join(", ")})` : outcome.components.join(", ")} from ${outcome.backupId}${arg === "latest" ? " (the latest backup)" : ""} in ${(outcome.durationMs / 1000).toFixed(1)} s.\nThe data it replaced is in backup ${outcome.preRestoreBackupId}.`,
    };
  },
};

/** `restore latest`: the newest readable backup, leaving out pre-restore ones (a second `restore latest` would otherwise undo the first). */
async function newestRestorable(storage: Storage): Promise<BackupSummary> {
  const newest = (await listBackups(storage)).find((b) => b.type !== "pre-restore");
  if (!newest) throw new NotFoundError("restore latest: there is no backup to restore yet (pre-restore backups count only by id); run `colab-backup backup` first");
  return newest;
}

const includedComponents = (m: Pick<StoredManifest, "components">) => COMPONENTS.filter((c) => m.components[c]?.status === "included");

const cleanup: Command<{ dryRun: boolean; maxRepackBytes?: number }> = {
  options: { "dry-run": { type: "boolean" }, "max-repack": { type: "string" } },
  parse(input) {
    noPositionals(input, "cleanup");
    const max = input.values["max-repack"];
    return { dryRun: input.values["dry-run"] === true, ...(typeof max === "string" ? { maxRepackBytes: parseByteSize(max, "--max-repack") } : {}) };
  },
  async run(ctx, { dryRun, maxRepackBytes }) {
    const out = await runCleanup(ctx.runtime.engine, { dryRun, actor: "cli", maxRepackBytes });
    const lines = out.remove.map((r) => `  ${dryRun ? "would remove" : "removed"} ${r.id}: ${r.reason}`);
    const head = dryRun ? `Dry run: ${out.remove.length} backups would be removed (${humanSize(out.freedBytes)}), ${out.keep.length} kept.` : `Removed ${out.removed.length} backups (${humanSize(out.freedBytes)}), kept ${out.keep.length}.`;
    return { json: { ok: true, ...out }, text: [head, ...lines, ...formatCleanupProblems(out)].join("\n") };
  },
};

/** "512M", "2G", "1.5GiB", "0", "1048576": bytes (binary units), or a ValidationError naming the flag. */
function parseByteSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new ValidationError(`read ${flag}: "${text}" is not a size; use a number of bytes or one like 200M or 2G`);
  const scale = 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase());
  return Math.floor(Number(m[1]) * scale);
}

const status: Command = {
  options: {},
  parse: (input) => noPositionals(input, "status"),
  async run(ctx) {
    const { engine, config } = ctx.runtime;
    const scan = await scanCatalog(engine.storage);
    const report = await getStatus(engine, config.backupDir, scan);
    const health = healthVerdict({ scan, interrupted: report.interrupted, now: engine.now(), maxAgeHours: config.server.healthMaxAgeHours });
    return { json: { ok: true, ...report, health, crmRoot: config.crmRoot, demo: ctx.runtime.demoCrm !== null }, text: formatStatus(report, health) };
  },
};

const del: Command<string> = {
  options: {},
  parse: (input) => backupIdArg(input, "delete"),
  async run(ctx, id) {
    const out = await deleteBackup(ctx.runtime.engine, id, `cli:${process.env.USER ?? "unknown"}`);
    const what = out.kind === "backup" ? "" : ` (${out.kind === "damaged" ? "a damaged manifest and its archive" : out.kind === "orphan" ? "an archive without a manifest" : "leftovers of an interrupted backup"})`;
    return { json: { ok: true, deleted: out.id, kind: out.kind, freedBytes: out.freedBytes }, text: `Deleted ${out.id}${what} (${humanSize(out.freedBytes)} freed).` };
  },
};

export const COMMANDS: Record<string, Command> = { backup, list, verify, export: exportCommand(backupIdArg), restore, cleanup, status, delete: del, ls, diff, token };
