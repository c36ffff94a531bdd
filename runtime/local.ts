// The local runtime's composition root: config, store and engine for every command (serve's extra services are in local-services.ts).
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { loadConfig, readEnvFile, type Config } from "../core/config.ts";
import { checkFolder } from "../core/config-paths.ts";
import { jsonLogger, makeEngine, silentLogger, type Engine } from "../core/engine.ts";
import { storageFromConfig } from "../core/storage/from-config.ts";
import { ensureDemoCrm } from "./demo-crm.ts";

export interface Runtime {
  engine: Engine;
  config: Config;
  /** Set when no CRM_ROOT was configured and the demo CRM is used. */
  demoCrm: { root: string; created: boolean } | null;
}

export async function buildRuntime(opts: { env?: NodeJS.ProcessEnv; cwd?: string; verbose?: boolean } = {}): Promise<Runtime> {
  const cwd = opts.cwd ?? process.cwd();
  const env = readEnvFile(path.join(cwd, ".env"), opts.env ?? process.env);
  let demoCrm: Runtime["demoCrm"] = null;
  let config = loadConfig(env, cwd);
  if (!config.crmRoot) {
    const root = path.resolve(cwd, "demo-crm");
    demoCrm = { root, created: await ensureDemoCrm(root) };
    config = loadConfig({ ...env, CRM_ROOT: root }, cwd);
  }
  // A wrong folder is a configuration error (exit 2) named here, not a failed backup later.
  if (!demoCrm && config.crmRoot) await checkFolder("CRM_ROOT", config.crmRoot, "write");
  await checkFolder("BACKUP_DIR", config.backupDir, "write", { create: !env.BACKUP_DIR });
  const workRoot = path.join(config.backupDir, "temp");
  await mkdir(workRoot, { recursive: true });
  const storage = await storageFromConfig(config);
  const engine = makeEngine({ config, storage, workRoot, log: opts.verbose ? jsonLogger() : silentLogger });
  return { engine, config, demoCrm };
}
