// Notifier: lifecycle events in (from a rule, an SQS queue, or a VPC function's Lambda destination), emails out.
import { notificationEvents } from "../core/notify/incoming.ts";
import { buildDeps, lazy } from "../runtime/aws.ts";

const deps = lazy(() => buildDeps());

export async function handler(event: unknown) {
  const { notifications } = await deps();
  const results = [];
  for (const e of notificationEvents(event)) results.push(await notifications.forEvent(e));
  return { sent: results.filter((r) => r?.ok).length, failed: results.filter((r) => r && !r.ok).length };
}
