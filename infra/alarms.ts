// CloudWatch alarms (defined in infra/alarm-definitions.ts): function errors, undelivered results, no successful backup, EFS burst credits; and a JobTask that stopped abnormally (infra/task-stopped.ts); all to one SNS topic mailed to the admins.
import { alarmDefinitions, efsCreditAlarm, type Watched } from "./alarm-definitions.ts";
import { config } from "./config.ts";
import { JOB_TASK_STOPPED_MESSAGE, jobTaskStoppedPattern } from "./task-stopped.ts";

export interface Watchers {
  fns: Watched<sst.aws.Function>;
  /** The CRM's file system: its burst credits. */
  efsId: $util.Input<string>;
  /** The JobTask's cluster: its tasks' abnormal stops. */
  jobsClusterArn: $util.Input<string>;
}

/**
 * These alarms do not depend on the notifier or SES: they still fire when mail is what broke. Each address
 * in BACKUP_ALARM_EMAIL (else BACKUP_EMAIL_TO) gets an SNS subscription that must be confirmed once from
 * the mail AWS sends after the first deploy.
 */
export function alarms({ fns, efsId, jobsClusterArn }: Watchers) {
  const topic = new aws.sns.Topic("Alarms", {});
  config.email.alarmTo.forEach((endpoint, i) => new aws.sns.TopicSubscription(`AlarmMail${i}`, { topic: topic.arn, protocol: "email", endpoint }));
  const actions = [topic.arn];

  const names: Watched<$util.Output<string>> = {
    all: Object.fromEntries(Object.entries(fns.all).map(([k, f]) => [k, f.name])),
    withDestinations: Object.fromEntries(Object.entries(fns.withDestinations).map(([k, f]) => [k, f.name])),
    scheduledBackup: fns.scheduledBackup.name,
  };
  const definitions = [...alarmDefinitions<$util.Input<string>>(names, config.healthMaxAgeHours), efsCreditAlarm(efsId, config.efsCreditAlarmGiB)];
  for (const { name, description, ...metric } of definitions) {
    new aws.cloudwatch.MetricAlarm(name, { alarmDescription: description, ...metric, alarmActions: actions, okActions: actions });
  }

  // ECS reports task stops on the account's default bus; the rule mails the admins through the same topic.
  const stopped = new aws.cloudwatch.EventRule("JobTaskStopped", {
    description: "colab-backup: a JobTask stopped with a non-zero exit code or never started",
    eventPattern: $util.output(jobsClusterArn).apply((arn) => JSON.stringify(jobTaskStoppedPattern(arn))),
  });
  new aws.cloudwatch.EventTarget("JobTaskStoppedMail", {
    rule: stopped.name,
    arn: topic.arn,
    inputTransformer: { inputPaths: { ...JOB_TASK_STOPPED_MESSAGE.inputPaths }, inputTemplate: JOB_TASK_STOPPED_MESSAGE.inputTemplate },
  });
  new aws.sns.TopicPolicy("AlarmsFromEvents", {
    arn: topic.arn,
    policy: $jsonStringify({
      Version: "2012-10-17",
      Statement: [
        // CloudWatch alarms publish with their own service principal by default; EventBridge needs this grant, for this rule only.
        { Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sns:Publish", Resource: topic.arn, Condition: { ArnEquals: { "aws:SourceArn": stopped.arn } } },
        // This policy replaces SNS's default one, so the alarms above are granted here too (this account's only).
        {
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: "sns:Publish",
          Resource: topic.arn,
          Condition: { StringEquals: { "aws:SourceAccount": aws.getCallerIdentityOutput().accountId } },
        },
      ],
    }),
  });
  return topic;
}
