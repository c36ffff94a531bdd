// CloudWatch alarms: function errors, undelivered results, and a backup function that stopped running; all to one SNS topic mailed to the admins.
import { config } from "./config.ts";

export interface Watched {
  /** Every function: any error (after Lambda's own retries are counted as errors too) raises the alarm. */
  all: Record<string, sst.aws.Function>;
  /** Functions whose results reach the bus as Lambda destination records. */
  withDestinations: Record<string, sst.aws.Function>;
  /** The function the schedules invoke, for the dead-man's switch. */
  scheduledBackup: sst.aws.Function;
}

/**
 * These alarms do not depend on the notifier or SES: they still fire when mail is what broke. Each address
 * in BACKUP_ALARM_EMAIL (else BACKUP_EMAIL_TO) gets an SNS subscription that must be confirmed once from
 * the mail AWS sends after the first deploy.
 */
export function alarms({ all, withDestinations, scheduledBackup }: Watched) {
  const topic = new aws.sns.Topic("Alarms", {});
  config.email.alarmTo.forEach((endpoint, i) => new aws.sns.TopicSubscription(`AlarmMail${i}`, { topic: topic.arn, protocol: "email", endpoint }));
  const actions = [topic.arn];

  const lambdaAlarm = (name: string, fn: sst.aws.Function, metricName: string, description: string) =>
    new aws.cloudwatch.MetricAlarm(name, {
      alarmDescription: description,
      namespace: "AWS/Lambda",
      metricName,
      dimensions: { FunctionName: fn.name },
      statistic: "Sum",
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions: actions,
      okActions: actions,
    });

  for (const [name, fn] of Object.entries(all)) {
    lambdaAlarm(`${name}Errors`, fn, "Errors", `colab-backup ${name} failed: see its CloudWatch logs`);
  }
  for (const [name, fn] of Object.entries(withDestinations)) {
    lambdaAlarm(
      `${name}UndeliveredResults`,
      fn,
      "DestinationDeliveryFailures",
      `colab-backup ${name}: Lambda could not deliver a result to the event bus, so no email was sent for it`,
    );
  }

  // Dead-man's switch: no scheduled backup started in 24 hours (a deleted or disabled schedule, a broken
  // role). Assumes BACKUP_DAILY_SCHEDULE runs at least daily, as its name says.
  new aws.cloudwatch.MetricAlarm("BackupNotRunning", {
    alarmDescription: "colab-backup: no scheduled backup started in the last 24 hours",
    namespace: "AWS/Lambda",
    metricName: "Invocations",
    dimensions: { FunctionName: scheduledBackup.name },
    statistic: "Sum",
    period: 3600,
    evaluationPeriods: 24,
    datapointsToAlarm: 24,
    threshold: 1,
    comparisonOperator: "LessThanThreshold",
    treatMissingData: "breaching",
    alarmActions: actions,
    okActions: actions,
  });

  return topic;
}
