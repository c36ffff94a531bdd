// The CLI side of `restore --target DIR` and `restore --include PATH...`: their flags, and the run into another folder.
import { normalisePath } from "../core/browse.ts";
import { ValidationError } from "../core/errors.ts";
import type { ComponentName } from "../core/manifest.ts";
import { restoreToTarget } from "../core/restore-target.ts";
import { humanSize } from "../core/units.ts";
import type { CommandContext, CommandInput, CommandResult } from "./commands.ts";
import { progressBar } from "./progress.ts";

export interface RestoreArgs {
  id: string;
  components: ComponentName[] | "all";
  confirm: string;
  target?: string;
  include?: string[];
}

/** --target and --include, checked before anything is read; a PATH's match against the backup is checked once it is. */
export function restoreWhere(input: CommandInput): Pick<RestoreArgs, "target" | "include"> {
  const target = input.values.target as string | undefined;
  if (target !== undefined && target.trim() === "") throw new ValidationError("--target must name a folder (empty or not yet existing) to restore into");
  const raw = (input.values as Record<string, unknown>).include as string[] | undefined;
  const include = raw?.map((p) => normalisePath(p, "restore --include"));
  return { ...(target !== undefined ? { target } : {}), ...(include ? { include } : {}) };
}

export async function restoreIntoFolder(ctx: CommandContext, req: { backupId: string; components: ComponentName[]; target: string; include?: string[]; latest: boolean }): Promise<CommandResult> {
  const bar = progressBar(ctx.tty);
  const out = await restoreToTarget(ctx.runtime.engine, { ...req, actor: `cli:${process.env.USER ?? "unknown"}`, onProgress: bar.update }).finally(bar.done);
  return {
    json: { ok: true, ...out, ...(req.include ? { include: req.include } : {}) },
    text: `Restored ${req.include ? `${req.include.join(", ")} (${out.components.join(", ")})` : out.components.join(", ")} from ${out.backupId}${req.latest ? " (the latest backup)" : ""} into ${out.target}: ${out.files} files, ${humanSize(out.bytes)}, in ${(out.durationMs / 1000).toFixed(1)} s.\nNothing live was changed. The folder has the CRM's layout (prisma/dev.db, uploads/, config files, logs/); its folders are private (mode 0700).`,
  };
}
