// One audit record per run of an action that succeeds or fails as a whole (backup, verify), written for failures too.
import { appendAudit, type AuditRecord } from "./catalog.ts";
import type { Engine } from "./engine.ts";
import { errorMessage } from "./errors.ts";

type Base = Pick<AuditRecord, "actor" | "action"> & { backupId?: string };
/** What a finished run adds to its record; null records nothing (a scheduled backup skipped because its slot already ran). */
type Describe<T> = (out: T) => Partial<Omit<AuditRecord, "at" | "actor" | "action">> | null;

/**
 * Runs `run` and records its outcome, then returns or rethrows exactly what `run` did: an audit write that fails is logged,
 * never allowed to turn a good backup into a failed one.
 */
export async function audited<T>(engine: Engine, base: Base, run: () => Promise<T>, describe: Describe<T>): Promise<T> {
  const started = Date.now();
  const write = (record: Omit<AuditRecord, "at">) =>
    appendAudit(engine.storage, record, engine.now()).catch((err) => engine.log.warn(`could not write the ${base.action} audit record`, { error: errorMessage(err) }));
  let out: T;
  try {
    out = await run();
  } catch (err) {
    await write({ ...base, result: "failed", error: errorMessage(err), detail: { durationMs: Date.now() - started } });
    throw err;
  }
  const extra = describe(out);
  if (extra) await write({ ...base, result: "succeeded", ...extra, detail: { durationMs: Date.now() - started, ...extra.detail } });
  return out;
}
