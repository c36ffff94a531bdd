// Wires the infra together in dependency order and returns the stage's outputs; called from sst.config.ts run().
import { alarms } from "./alarms.ts";
import { apiAndDashboard } from "./api.ts";
import { config } from "./config.ts";
import { schedules } from "./crons.ts";
import { emailIdentity } from "./email.ts";
import { eventBus, subscribe } from "./events.ts";
import { backgroundFunctions } from "./functions.ts";
import { network } from "./network.ts";
import { secrets } from "./secrets.ts";
import { backupBucket } from "./storage.ts";
import { jobTask } from "./tasks.ts";

export function deploy() {
  const bucket = backupBucket();
  const net = network(bucket);
  const bus = eventBus();
  const email = emailIdentity();
  const { jwtSecret } = secrets();

  // Restores run on Fargate (infra/placement.ts); the task's role joins the EFS policy the functions' file creates.
  const jobs = jobTask({ bucket, bus, network: net, email });
  const fns = backgroundFunctions({ bucket, bus, network: net, email, jobTaskRoleArn: jobs.task.nodes.taskRole.arn });
  subscribe(bus, { notifier: fns.notifier, worker: fns.worker, cleanup: fns.cleanup, inVpc: fns.inVpc });
  const crons = schedules({ backup: fns.backup, cleanup: fns.cleanup });
  const { api, site, fn: apiFn } = apiAndDashboard({ bucket, bus, email, statements: fns.perms.api, jwtSecret });

  alarms({
    fns: {
      all: { ScheduledBackup: fns.backup, Worker: fns.worker, Cleanup: fns.cleanup, Notifier: fns.notifier, Api: apiFn },
      withDestinations: { ScheduledBackup: fns.backup, Worker: fns.worker },
      scheduledBackup: fns.backup,
    },
    efsId: net.efs.id,
    jobsClusterArn: jobs.cluster.nodes.cluster.arn,
  });

  return {
    api: api.url,
    dashboard: site.url,
    bucket: bucket.name,
    bus: bus.name,
    efs: net.efs.id,
    jobsCluster: jobs.cluster.nodes.cluster.name,
    mailFrom: email?.sender,
    schedules: Object.fromEntries(
      Object.entries(config.schedules).map(([type, s]) => [type, `${s.expression} ${s.timezone}`]),
    ),
    scheduleNames: Object.fromEntries(Object.entries(crons).map(([type, c]) => [type, c.nodes.schedule.name])),
  };
}
