// Who owns a piece of local work: this process's pid and the kernel's boot id, and whether such an owner is gone.
import { readFileSync } from "node:fs";

/** The first 8 hex digits of the kernel's boot id: changes on every boot, differs between machines and Lambda micro-VMs. */
export const BOOT_ID = bootId();

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim().replace(/-/g, "").slice(0, 8);
  } catch {
    return "noboot00";
  }
}

/** Embedded in the names of work files and folders, so the next run can tell whether their owner still lives. */
export const OWNER_TAG = ownerTag(process.pid);

export function ownerTag(pid: number, boot = BOOT_ID): string {
  return `p${pid}b${boot}`;
}

const TAG_PATTERN = /(?:^|-)p(\d+)b([0-9a-f]{8}|noboot00)(?:-|\.|$)/;

/** The owner tag inside a work entry's name, or null for names written before tags existed. */
export function parseOwnerTag(name: string): { pid: number; boot: string } | null {
  const m = TAG_PATTERN.exec(name);
  return m ? { pid: Number(m[1]), boot: m[2]! } : null;
}

export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means the process exists but belongs to another user: still alive.
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * A tagged owner is gone when it ran under another boot (work folders are per machine: BACKUP_DIR/temp, or /tmp on
 * Lambda, so another boot id means a previous boot) or its pid no longer runs on this one.
 */
export function ownerGone(owner: { pid: number; boot: string }): boolean {
  if (owner.boot !== BOOT_ID) return true;
  return owner.pid !== process.pid && !processAlive(owner.pid);
}
