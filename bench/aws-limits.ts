// Prints the README's AWS limits table from a bench results file (default bench/results/latest.json) through infra/limits-model.ts: `npx tsx bench/aws-limits.ts [results.json]`.
import { readFileSync } from "node:fs";
import { AWS, JOBS, estimate, lambdaVcpus, referenceCrm, type BenchResults } from "../infra/limits-model.ts";
import { EFS_LAMBDA_MEMORY_MB, SCHEDULE_PLACEMENT, WORK_PLACEMENT } from "../infra/placement.ts";

const file = process.argv[2] ?? new URL("./results/latest.json", import.meta.url);
const bench = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
const ref = referenceCrm(bench);
const vcpus = lambdaVcpus(EFS_LAMBDA_MEMORY_MB);
const runsOn = (job: string) =>
  [...Object.entries(WORK_PLACEMENT), ...Object.entries(SCHEDULE_PLACEMENT)]
    .filter(([, p]) => p.model === job)
    .map(([what, p]) => `${what} → ${p.runtime === "task" ? "JobTask" : "Lambda"}`)
    .join("; ");
const s = (x: number) => `${Math.round(x)} s`;

console.log(`bench ${bench.date}: ${(bench.input.totalBytes / 1e6).toFixed(1)} MB, ${bench.input.files} files; reference ${ref.totalBytes / 1e9} GB, ~${ref.files} files (x${ref.scale.toFixed(2)})`);
console.log(`Lambda ${EFS_LAMBDA_MEMORY_MB} MB = ${vcpus.toFixed(2)} vCPU, limit ${AWS.lambdaTimeoutS} s\n`);
console.log("| job (reference CRM) | CPU | EFS | S3 | total on Lambda | margin (900 s / total) | 2 vCPU Fargate | runs as |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const job of JOBS) {
  const e = estimate(bench, job, vcpus, AWS.lambdaTimeoutS);
  const f = estimate(bench, job, 2);
  console.log(`| ${job} | ${s(e.cpuS)} | ${s(e.efsS)} | ${s(e.s3S)} | ${s(e.totalS)} | ${e.margin.toFixed(2)}x | ${s(f.totalS)} | ${runsOn(job)} |`);
}
