// CloudWatch metrics as embedded-metric-format (EMF) log lines: what the backup function publishes and the alarms in infra/alarms.ts watch.
/*
 * EMF needs no SDK and no network: a function inside the VPC (no NAT, no CloudWatch endpoint) writes one JSON
 * line to stdout and CloudWatch Logs extracts the metric from it. The line must reach the log unwrapped, so it is
 * written with process.stdout.write, not console.log, which Lambda's JSON log format wraps in a "message" field.
 */

export const METRICS_NAMESPACE = "colab-backup";
/** 1 for each scheduled backup that completed (duplicate deliveries of a slot publish nothing). */
export const BACKUP_SUCCEEDED = "BackupSucceeded";
/** The one dimension: Lambda's function name, so each stage's alarm watches its own function. */
export const FUNCTION_DIMENSION = "FunctionName";

/** One EMF log line (spec: CloudWatch "Specification: Embedded metric format"), newline-terminated. */
export function emfLine(
  metric: { name: string; value: number; unit?: "Count" | "Milliseconds" | "Bytes" },
  dimensions: Record<string, string>,
  properties: Record<string, string | number> = {},
  now: Date = new Date(),
): string {
  const doc = {
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: [{ Name: metric.name, Unit: metric.unit ?? "Count" }] }],
    },
    // Properties that are not dimensions stay searchable in Logs Insights without adding metric cost.
    ...properties,
    ...dimensions,
    [metric.name]: metric.value,
  };
  return JSON.stringify(doc) + "\n";
}

/** The BackupSucceeded line for one scheduled backup, from the function named `functionName`. */
export function backupSucceededLine(functionName: string, detail: { type: string; backupId: string }, now?: Date): string {
  return emfLine({ name: BACKUP_SUCCEEDED, value: 1 }, { [FUNCTION_DIMENSION]: functionName }, { type: detail.type, backupId: detail.backupId }, now);
}
