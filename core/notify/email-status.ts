// The last email send result, kept in the store: on AWS the notifier sends and the API reports, in different functions.
import { NotFoundError } from "../errors.ts";
import type { Storage } from "../storage/storage.ts";
import type { SendResult } from "./notifications.ts";

export const EMAIL_STATUS_KEY = "status/email.json";

export async function saveEmailStatus(storage: Storage, result: SendResult): Promise<void> {
  await storage.put(EMAIL_STATUS_KEY, JSON.stringify(result));
}

export async function readEmailStatus(storage: Storage): Promise<SendResult | null> {
  try {
    return JSON.parse((await storage.getBuffer(EMAIL_STATUS_KEY)).toString("utf8")) as SendResult;
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

/** The newer of two results (this process's own, and the stored one). */
export function newest(a: SendResult | null, b: SendResult | null): SendResult | null {
  if (!a || !b) return a ?? b;
  return a.at >= b.at ? a : b;
}
