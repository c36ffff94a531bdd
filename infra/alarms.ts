// CloudWatch alarms (defined in infra/alarm-definitions.ts): function errors, undelivered results, no successful backup; all to one SNS topic mailed to the admins.
import { alarmDefinitions, type Watched } from "./alarm-definitions.ts";
import { config } from "./config.ts";

/**
 * These alarms do not depend on the notifier or SES: they still fire when mail is what broke. Each address
 * in BACKUP_ALARM_EMAIL (else BACKUP_EMAIL_TO) gets an SNS subscription that must be confirmed once from
 * the mail AWS sends after the first deploy.
 */
export function alarms(fns: Watched<sst.aws.Function>) {
  const topic = new aws.sns.Topic("Alarms", {});
  config.email.alarmTo.forEach((endpoint, i) => new aws.sns.TopicSubscription(`AlarmMail${i}`, { topic: topic.arn, protocol: "email", endpoint }));
  const actions = [topic.arn];

  const names: Watched<$util.Output<string>> = {
    all: Object.fromEntries(Object.entries(fns.all).map(([k, f]) => [k, f.name])),
    withDestinations: Object.fromEntries(Object.entries(fns.withDestinations).map(([k, f]) => [k, f.name])),
    scheduledBackup: fns.scheduledBackup.name,
  };
  for (const { name, description, ...metric } of alarmDefinitions(names, config.healthMaxAgeHours)) {
    new aws.cloudwatch.MetricAlarm(name, { alarmDescription: description, ...metric, alarmActions: actions, okActions: actions });
  }
  return topic;
}
