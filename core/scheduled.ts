// What a schedule firing does, wherever it fires: one backup per slot, or cleanup; the outcome becomes an event.
import { runBackup } from "./backup.ts";
import { runCleanup } from "./cleanup.ts";
import type { Engine } from "./engine.ts";
import { BackupError, errorMessage } from "./errors.ts";
import type { EventBus } from "./events/bus.ts";
import { backupSucceededDetail, cleanupCompletedDetail, type AnyEvent } from "./events/job-events.ts";
import { isBackupKind, type ScheduleKind } from "./schedule-event.ts";

/**
 * A failed backup publishes backup.failed (when there is a bus) and then throws its error: on Lambda the invocation
 * fails, so the Errors metric and alarm fire, the retry runs the slot again (the slot was freed), and the failure
 * destination record carries the error to the notifier. A duplicate delivery of a slot that already has its backup
 * is a success with no event at all.
 */
export async function runSchedule(engine: Engine, slot: { kind: ScheduleKind; scheduledAt: Date }, bus: EventBus | null): Promise<AnyEvent | null> {
  const { event, error } = await outcome(engine, slot);
  if (event && bus) await bus.publish(event.type, event.detail as never);
  if (error !== undefined) throw error;
  return event;
}

async function outcome(engine: Engine, { kind, scheduledAt }: { kind: ScheduleKind; scheduledAt: Date }): Promise<{ event: AnyEvent | null; error?: unknown }> {
  if (!isBackupKind(kind)) {
    return { event: { type: "cleanup.completed", detail: cleanupCompletedDetail(await runCleanup(engine, { actor: "scheduler" })) } };
  }
  try {
    const out = await runBackup(engine, { type: kind, scheduledAt, actor: "scheduler" });
    if (out.skipped) {
      engine.log.info("duplicate schedule delivery ignored", { kind, scheduledAt: scheduledAt.toISOString(), existingId: out.existingId });
      return { event: null };
    }
    return { event: { type: "backup.succeeded", detail: backupSucceededDetail(out.manifest, out.durationMs) } };
  } catch (err) {
    engine.log.error("scheduled backup failed", { kind, error: errorMessage(err) });
    const code = err instanceof BackupError ? err.code : "internal_error";
    return { event: { type: "backup.failed", detail: { version: 1, type: kind, error: { code, message: errorMessage(err) } } }, error: err };
  }
}
