// What each CloudWatch alarm watches, as plain data (no SST import, so tests check it): function errors, undelivered results, no successful backup in the health window, EFS burst credits, a JobTask that stopped abnormally.
import { BACKUP_SUCCEEDED, FUNCTION_DIMENSION, METRICS_NAMESPACE } from "../core/metrics.ts";

export interface AlarmDefinition<T> {
  name: string;
  description: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, T>;
  statistic: "Sum" | "Minimum";
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparisonOperator: "GreaterThanOrEqualToThreshold" | "LessThanThreshold";
  treatMissingData: "notBreaching" | "breaching";
}

/** Function names (SST Outputs in infra/, strings in tests) by the name the alarms use. */
export interface Watched<T> {
  /** Every function: any error raises the alarm (each failed attempt counts, Lambda's retries included). */
  all: Record<string, T>;
  /** Functions whose results reach the bus as Lambda destination records. */
  withDestinations: Record<string, T>;
  /** The function the schedules invoke: it publishes BackupSucceeded (core/metrics.ts). */
  scheduledBackup: T;
}

const HOUR = 3600;
const GIB = 1024 ** 3;

export function alarmDefinitions<T>({ all, withDestinations, scheduledBackup }: Watched<T>, healthMaxAgeHours: number): AlarmDefinition<T>[] {
  const onLambda = (name: string, fn: T, metricName: string, description: string): AlarmDefinition<T> => ({
    name,
    description,
    namespace: "AWS/Lambda",
    metricName,
    dimensions: { FunctionName: fn },
    statistic: "Sum",
    period: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    threshold: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    // No invocations is not an error: the dead-man's switch below covers silence.
    treatMissingData: "notBreaching",
  });
  return [
    ...Object.entries(all).map(([name, fn]) => onLambda(`${name}Errors`, fn, "Errors", `colab-backup ${name} failed: see its CloudWatch logs`)),
    ...Object.entries(withDestinations).map(([name, fn]) =>
      onLambda(
        `${name}UndeliveredResults`,
        fn,
        "DestinationDeliveryFailures",
        `colab-backup ${name}: Lambda could not deliver a result to the event bus, so no email was sent for it`,
      ),
    ),
    {
      // Dead-man's switch on successes, not invocations: a schedule that fires into a failing backup, a deleted or
      // disabled schedule, a broken role and a function that never starts all look the same here: no success.
      // Hourly periods, every one of the last BACKUP_HEALTH_MAX_AGE_HOURS without a success (missing data counts).
      name: "BackupNotSucceeded",
      description: `colab-backup: no scheduled backup succeeded in the last ${healthMaxAgeHours} hours (BACKUP_HEALTH_MAX_AGE_HOURS)`,
      namespace: METRICS_NAMESPACE,
      metricName: BACKUP_SUCCEEDED,
      dimensions: { [FUNCTION_DIMENSION]: scheduledBackup },
      statistic: "Sum",
      period: HOUR,
      evaluationPeriods: healthMaxAgeHours,
      datapointsToAlarm: healthMaxAgeHours,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
    },
  ];
}

/**
 * EFS Bursting: when the CRM's own traffic drains the burst credits, throughput drops to the baseline (50 KiB/s per
 * GiB stored) and a weekly backup or a restore no longer fits its runtime (README "Is Bursting enough?"). The alarm
 * fires while the lowest balance of an hour is under BACKUP_EFS_CREDIT_ALARM_GIB. Elastic and Provisioned file
 * systems report no BurstCreditBalance: missing data is not an alarm.
 */
export function efsCreditAlarm<T>(fileSystemId: T, minGiB: number): AlarmDefinition<T> {
  return {
    name: "EfsBurstCreditsLow",
    description:
      `colab-backup: the CRM's EFS has under ${minGiB} GiB of burst credits (BACKUP_EFS_CREDIT_ALARM_GIB); at the baseline ` +
      "throughput a weekly backup or a restore may run past its limit. See README \"Is Bursting enough?\"",
    namespace: "AWS/EFS",
    metricName: "BurstCreditBalance",
    dimensions: { FileSystemId: fileSystemId },
    statistic: "Minimum",
    period: HOUR,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    threshold: minGiB * GIB,
    comparisonOperator: "LessThanThreshold",
    treatMissingData: "notBreaching",
  };
}
