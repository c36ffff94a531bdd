// The CloudWatch alarms infra/ creates, as data: every function's errors, undelivered results, and a dead-man's switch on the metric the backup function really publishes.
import { describe, expect, it } from "vitest";
import { backupSucceededLine } from "../core/metrics.ts";
import { alarmDefinitions, efsCreditAlarm } from "../infra/alarm-definitions.ts";
import { MAX_HEALTH_HOURS, readInfraConfig } from "../infra/config.ts";

// infra/index.ts watches these (SST names -> deployed function names).
const FNS = {
  ScheduledBackup: "colab-backup-production-ScheduledBackupFunction-a1",
  Worker: "colab-backup-production-WorkerFunction-b2",
  Cleanup: "colab-backup-production-CleanupFunction-c3",
  Notifier: "colab-backup-production-NotifierFunction-d4",
  Api: "colab-backup-production-ApiHandlerFunction-e5",
};
const watched = {
  all: FNS,
  withDestinations: { ScheduledBackup: FNS.ScheduledBackup, Worker: FNS.Worker },
  scheduledBackup: FNS.ScheduledBackup,
};
const byName = (hours = 26) => Object.fromEntries(alarmDefinitions(watched, hours).map((a) => [a.name, a]));

describe("alarm definitions", () => {
  it("alarm on any error of any function, within five minutes", () => {
    const alarms = byName();
    for (const [name, fn] of Object.entries(FNS)) {
      expect(alarms[`${name}Errors`], name).toMatchObject({
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: fn },
        statistic: "Sum",
        period: 300,
        threshold: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
      });
    }
    expect(alarms.ScheduledBackupUndeliveredResults).toMatchObject({ metricName: "DestinationDeliveryFailures", dimensions: { FunctionName: FNS.ScheduledBackup } });
    expect(alarms.WorkerUndeliveredResults).toMatchObject({ metricName: "DestinationDeliveryFailures", dimensions: { FunctionName: FNS.Worker } });
  });

  it("alarm when no scheduled backup succeeded for BACKUP_HEALTH_MAX_AGE_HOURS: every hourly period without a success, missing data breaching", () => {
    const health = readInfraConfig({ BACKUP_HEALTH_MAX_AGE_HOURS: "30" }).healthMaxAgeHours;
    const alarm = byName(health).BackupNotSucceeded!;
    expect(alarm).toMatchObject({
      statistic: "Sum",
      period: 3600,
      evaluationPeriods: 30,
      datapointsToAlarm: 30,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
    });
    // Successes, not invocations: a schedule that fires into a failing backup must still alarm.
    expect(alarmDefinitions(watched, 26).filter((a) => a.metricName === "Invocations")).toEqual([]);
    // Defaults to core's 26 hours, and the longest window stays within CloudWatch's 7-day evaluation range.
    expect(readInfraConfig({}).healthMaxAgeHours).toBe(26);
    const longest = byName(MAX_HEALTH_HOURS).BackupNotSucceeded!;
    expect(longest.period * longest.evaluationPeriods).toBeLessThanOrEqual(604_800);
  });

  it("watch exactly the metric, namespace and dimension the scheduled-backup handler writes as EMF", () => {
    const alarm = byName().BackupNotSucceeded!;
    const doc = JSON.parse(backupSucceededLine(FNS.ScheduledBackup, { type: "daily", backupId: "daily-x" }));
    const [directive] = doc._aws.CloudWatchMetrics;
    expect(directive.Namespace).toBe(alarm.namespace);
    expect(directive.Metrics.map((m: { Name: string }) => m.Name)).toContain(alarm.metricName);
    // CloudWatch matches a metric by its full dimension set: the alarm must name the same keys, with the values the line carries.
    expect(directive.Dimensions).toEqual([Object.keys(alarm.dimensions)]);
    for (const [key, value] of Object.entries(alarm.dimensions)) expect(doc[key]).toBe(value);
    expect(doc[alarm.metricName]).toBeGreaterThanOrEqual(alarm.threshold);
  });

  it("alarm when the CRM's EFS holds fewer burst credits than BACKUP_EFS_CREDIT_ALARM_GIB, in bytes, on the hour's lowest balance", () => {
    const gib = readInfraConfig({ BACKUP_EFS_CREDIT_ALARM_GIB: "120" }).efsCreditAlarmGiB;
    expect(efsCreditAlarm("fs-0123456789abcdef0", gib)).toMatchObject({
      namespace: "AWS/EFS",
      metricName: "BurstCreditBalance",
      dimensions: { FileSystemId: "fs-0123456789abcdef0" },
      statistic: "Minimum",
      period: 3600,
      threshold: 120 * 1024 ** 3,
      comparisonOperator: "LessThanThreshold",
      // Elastic and Provisioned file systems report no credits: that is not an alarm.
      treatMissingData: "notBreaching",
    });
    expect(readInfraConfig({}).efsCreditAlarmGiB).toBe(50);
    for (const bad of ["0", "-5", "lots", "3000"]) {
      expect(() => readInfraConfig({ BACKUP_EFS_CREDIT_ALARM_GIB: bad }), bad).toThrow(/BACKUP_EFS_CREDIT_ALARM_GIB must be a number of GiB above 0 and at most 2150.*got "/);
    }
  });
});
