// The event bus and its rules: lifecycle events to the notifier, requested work to the worker, VPC functions' results via Lambda destinations.
import { CLEANUP_PATTERN, NOTIFIER_PATTERN, type EventPattern } from "../core/events/patterns.ts";
import { workPatterns } from "./placement.ts";

export function eventBus() {
  return new sst.aws.Bus("Events");
}

/** core's EventBridge pattern in the shape sst.aws.Bus#subscribe takes. */
const busPattern = (p: EventPattern) => ({ source: p.source, detailType: p["detail-type"] });

/**
 * What Lambda sends to the bus when an asynchronous invocation of a function inside the VPC ends: the
 * functions that mount EFS have no route to EventBridge (no NAT, no interface endpoint, by design), so they
 * return their lifecycle event ({ type, detail }, core/events/job-events.ts) and Lambda delivers the
 * invocation record from outside the VPC. Success records carry it as detail.responsePayload; failure
 * records carry detail.responsePayload.errorMessage and the original event as detail.requestPayload.
 * functionArn in the record is qualified ("...:function:name:$LATEST"), hence the prefix with ":".
 * The notifier unwraps these records (core/notify/incoming.ts). test/aws-pipeline.test.ts writes the same pattern out
 * by hand for its LocalStack rule, since this file needs SST's globals and cannot be imported there.
 */
export function destinationPattern(functionArns: $util.Input<string>[]) {
  return $util.all(functionArns).apply((arns) => ({
    source: ["lambda"],
    detailType: ["Lambda Function Invocation Result - Success", "Lambda Function Invocation Result - Failure"],
    detail: { requestContext: { functionArn: arns.map((arn) => ({ prefix: `${arn}:` })) } },
  }));
}

export interface Subscribers {
  notifier: sst.aws.Function;
  worker: sst.aws.Function;
  /** Runs cleanup.requested: the one role allowed to delete backups. */
  cleanup: sst.aws.Function;
  /** Functions in the VPC whose results arrive as Lambda destination records. */
  inVpc: sst.aws.Function[];
}

export function subscribe(bus: sst.aws.Bus, { notifier, worker, cleanup, inVpc }: Subscribers) {
  // backup.succeeded/failed, restore.*, cleanup.completed, verify.failed, system.initialized, as published by
  // the functions outside the VPC (api, cleanup) and by the local runtime.
  bus.subscribe("NotifyLifecycle", notifier.arn, { pattern: busPattern(NOTIFIER_PATTERN) });
  // The same events from the backup and worker functions, wrapped in Lambda destination records.
  bus.subscribe("NotifyResults", notifier.arn, { pattern: destinationPattern(inVpc.map((f) => f.arn)) });
  // The requested jobs that hold 2x Lambda's limit (infra/placement.ts); restore.requested goes to the JobTask (infra/tasks.ts).
  bus.subscribe("Work", worker.arn, { pattern: busPattern(workPatterns().lambda) });
  // cleanup.requested, published by the API: cleanup outside the request, by the function that may delete.
  bus.subscribe("Cleanup", cleanup.arn, { pattern: busPattern(CLEANUP_PATTERN) });
}
