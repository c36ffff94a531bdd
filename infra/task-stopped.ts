// The bus rule that tells the admins when the JobTask stops abnormally (crash, out of memory, image pull failure), as plain data (no SST import, so tests check it on LocalStack).
import { TASK_CONTAINER } from "./placement.ts";

/**
 * ECS puts "ECS Task State Change" events on the account's default bus. A JobTask that ends a job normally exits 0,
 * having saved its job and published the job's event; any other end (a non-zero exit code of the job container, or
 * a task that never started) may leave the job unsaved, which the dashboard would show as worker_lost only after the
 * job's 17-minute deadline (core/jobs/deadline.ts). Matches only tasks of the Jobs cluster (it runs nothing else).
 */
export function jobTaskStoppedPattern(clusterArn: string) {
  return {
    source: ["aws.ecs"],
    "detail-type": ["ECS Task State Change"],
    detail: {
      clusterArn: [clusterArn],
      lastStatus: ["STOPPED"],
      $or: [{ containers: { name: [TASK_CONTAINER], exitCode: [{ "anything-but": 0 }] } }, { stopCode: ["TaskFailedToStart"] }],
    },
  };
}

/**
 * The mail the alarm topic sends (an SNS target's input transformer: the template is one JSON string, EventBridge
 * inserts each path's value). Only fields every STOPPED event carries are used.
 */
export const JOB_TASK_STOPPED_MESSAGE = {
  inputPaths: { task: "$.detail.taskArn", stopCode: "$.detail.stopCode", reason: "$.detail.stoppedReason", at: "$.time" },
  inputTemplate:
    '"colab-backup: the JobTask <task> stopped abnormally at <at> (<stopCode>: <reason>). A restore it was running may ' +
    "not have saved its result: open the dashboard's job list; an interrupted restore is rolled back by the next Worker or " +
    'JobTask start after the restore\'s store lock expires (2 minutes after its last heartbeat). The task\'s log is in CloudWatch Logs, group of the JobTask."',
} as const;
