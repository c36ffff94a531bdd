// Runs a handler as Lambda would in one function: with exactly infra/'s environment for it, LocalStack and local paths substituted, plus what Lambda adds.
import { functionEnvironments, type FunctionName } from "../../infra/environment.ts";
import { awsEnv, type LocalStackContext } from "./config.ts";

type Envs = ReturnType<typeof functionEnvironments<string>>;

/** The only infra/ values a test may replace, with the value infra/ must have set (so a change there still fails). */
const LOCAL_PATHS = { CRM_ROOT: "/mnt/crm", BACKUP_DIR: "/tmp/colab-backup" } as const;

/**
 * Each function's environment for LocalStack: infra/'s (bucket and bus are the test's own, passed to
 * functionEnvironments as the deployed names), with CRM_ROOT and BACKUP_DIR pointing at this machine's folders,
 * plus what Lambda sets itself (region, credentials, function name) and AWS_ENDPOINT_URL for LocalStack.
 */
export function localLambdaEnvs(envs: Envs, ls: LocalStackContext, paths: { crmRoot: string; workDir: (fn: FunctionName) => string }) {
  const out = {} as Record<FunctionName, Record<string, string>>;
  for (const [fn, env] of Object.entries(envs) as [FunctionName, Record<string, string>][]) {
    for (const [name, expected] of Object.entries(LOCAL_PATHS)) {
      if (name in env && env[name] !== expected) throw new Error(`localLambdaEnvs: infra set ${name}=${env[name]} for ${fn}; expected ${expected}, update LOCAL_PATHS`);
    }
    const { BACKUP_BUCKET: _bucket, ...lambdaSet } = awsEnv(ls); // the bucket is infra/'s
    out[fn] = {
      ...env,
      ...("CRM_ROOT" in env ? { CRM_ROOT: paths.crmRoot } : {}),
      BACKUP_DIR: paths.workDir(fn),
      ...lambdaSet,
      AWS_LAMBDA_FUNCTION_NAME: `colab-backup-test-${fn}`,
      // What Node needs to run at all (Lambda sets its own).
      ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    };
  }
  return out;
}

/** Runs `call` with process.env replaced by `env`, as if in that function's own process; handlers build their deps on first call. */
export async function inFunction<R>(env: Record<string, string>, call: () => Promise<R>): Promise<R> {
  const saved = process.env;
  process.env = { ...env };
  try {
    return await call();
  } finally {
    process.env = saved;
  }
}
