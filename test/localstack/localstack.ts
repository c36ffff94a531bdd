// Brings LocalStack up for tests and `npm run localstack`: reuses a healthy one, else runs the pinned runtime from .venv-localstack/, and stops only what it started.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { appendFile, link, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_ENDPOINT, SERVICES } from "./config.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const LOG_FILE = path.join(ROOT, "test-artifacts", "localstack.log");
/** Harness state: server.json names the server the harness started; users/<pid> are the processes using it. */
const STATE_DIR = path.join(ROOT, "test-artifacts", "localstack");
const SERVER_FILE = path.join(STATE_DIR, "server.json");
const USERS_DIR = path.join(STATE_DIR, "users");
const VENV = process.env.LOCALSTACK_VENV ?? path.join(ROOT, ".venv-localstack");
const START_TIMEOUT_MS = 120_000;

export interface LocalStackHandle {
  endpoint: string;
  version: string;
  /** True when this call started the server (it is stopped when the last user releases it). */
  started: boolean;
  /** Drops this process's use; stops the server if the harness started it and nobody else uses it. */
  release(): Promise<void>;
}

interface Health {
  ok: boolean;
  version: string;
  missing: string[];
}

type Log = (line: string) => void;

/** Returns a healthy LocalStack with SERVICES, starting one if none answers. Throws with the reason otherwise. */
export async function acquireLocalStack(log: Log = (l) => console.error(l)): Promise<LocalStackHandle> {
  const explicit = process.env.LOCALSTACK_ENDPOINT?.replace(/\/+$/, "");
  const endpoint = explicit ?? DEFAULT_ENDPOINT;
  // Test runs in parallel (several developers, or `npm run localstack` beside a run) take turns deciding.
  return withStateLock(log, async () => {
    const health = await checkHealth(endpoint);
    if (health?.ok) return reuse(endpoint, health.version, log);
    if (health) throw new Error(`LocalStack at ${endpoint} is up but lacks services: ${health.missing.join(", ")}`);
    if (explicit)
      throw new Error(`LOCALSTACK_ENDPOINT=${explicit} does not answer ${explicit}/_localstack/health; start it or unset the variable`);
    const url = new URL(endpoint);
    if (await portAnswers(url.hostname, Number(url.port || 4566)))
      throw new Error(`port ${url.port || 4566} on ${url.hostname} is taken by something that is not a healthy LocalStack`);
    return start(endpoint, log);
  });
}

async function reuse(endpoint: string, version: string, log: Log): Promise<LocalStackHandle> {
  const server = await readServer();
  const ours = server !== undefined && server.endpoint === endpoint && isLocalStackPid(server.pid);
  log(`localstack: reusing ${version} at ${endpoint}${ours ? " (shared with another run of this harness)" : " (not ours: left running)"}`);
  if (!ours) return { endpoint, version, started: false, release: async () => undefined };
  await addUser();
  return { endpoint, version, started: false, release: releaseUser };
}

async function start(endpoint: string, log: Log): Promise<LocalStackHandle> {
  const begin = Date.now();
  await installVenv(log);
  const url = new URL(endpoint);
  const listen = `${url.hostname}:${url.port || "4566"}`;
  // Host-mode root: install.sh put the prebuilt service catalog under it; only tmp/ (the state) is per run.
  const fsRoot = path.join(VENV, "filesystem");
  await rm(path.join(fsRoot, "tmp"), { recursive: true, force: true });
  await mkdir(USERS_DIR, { recursive: true });
  await appendFile(LOG_FILE, `\n==== ${new Date().toISOString()} starting LocalStack on ${listen} ====\n`);
  const logFd = openSync(LOG_FILE, "a");
  const child = spawn(path.join(VENV, "bin", "python"), ["-m", "localstack.runtime.main"], {
    cwd: ROOT,
    // A clean environment: the runtime must not pick up a developer's SERVICES, DEBUG or AWS_* settings.
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? ROOT,
      LANG: "C.UTF-8",
      SERVICES: SERVICES.join(","),
      GATEWAY_LISTEN: listen,
      LOCALSTACK_HOST: listen,
      PERSISTENCE: "0",
      // Host mode: this machine has /.dockerenv, which would otherwise make LocalStack write to /var/lib/localstack.
      OVERRIDE_IN_DOCKER: "0",
      FILESYSTEM_ROOT: fsRoot,
      // No DNS server on port 53, no certificate download and no analytics: only 127.0.0.1 is reachable.
      DNS_ADDRESS: "0",
      SKIP_SSL_CERT_DOWNLOAD: "1",
      DISABLE_EVENTS: "1",
      // Hypercorn binds the given address; LocalStack's default (twisted) listens on every interface.
      GATEWAY_SERVER: "hypercorn",
      DEBUG: process.env.LOCALSTACK_DEBUG === "1" ? "1" : "0",
    },
    // Its own process group, so a second test run can keep using it after this one exits, and Ctrl-C of a
    // reusing process does not kill it.
    detached: true,
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  child.unref();
  let exited: string | undefined;
  child.on("exit", (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`start LocalStack: could not spawn ${VENV}/bin/python`);
  await writeFile(SERVER_FILE, JSON.stringify({ pid, endpoint, startedAt: new Date().toISOString() }));
  await addUser();
  log(`localstack: starting (pid ${pid}, log ${path.relative(ROOT, LOG_FILE)})`);

  const spawnedAt = Date.now();
  while (Date.now() - spawnedAt < START_TIMEOUT_MS) {
    const health = await checkHealth(endpoint);
    if (health?.ok) {
      const secs = (from: number) => ((Date.now() - from) / 1000).toFixed(1);
      log(`localstack: ${health.version} ready at ${endpoint} after ${secs(spawnedAt)}s (${secs(begin)}s with the venv check)`);
      return { endpoint, version: health.version, started: true, release: releaseUser };
    }
    if (exited) {
      await rm(SERVER_FILE, { force: true });
      await removeUser();
      throw new Error(`start LocalStack: the runtime ${exited} before it was healthy; log tail:\n${logTail()}`);
    }
    await sleep(250);
  }
  await stopServer(pid);
  await rm(SERVER_FILE, { force: true });
  await removeUser();
  throw new Error(`start LocalStack: not healthy after ${START_TIMEOUT_MS / 1000}s; log tail:\n${logTail()}`);
}

/** Runs install.sh (its progress goes to stderr), which returns at once when the pinned venv is already there. */
async function installVenv(log: Log): Promise<void> {
  const script = path.join(ROOT, "test", "localstack", "install.sh");
  await mkdir(path.dirname(LOG_FILE), { recursive: true });
  const begin = Date.now();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("bash", [script], { cwd: ROOT, stdio: ["ignore", 2, 2] });
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`install LocalStack: ${script} exited with code ${code}`);
  if (Date.now() - begin > 2000) log(`localstack: venv install took ${((Date.now() - begin) / 1000).toFixed(1)}s`);
}

/** The health of the LocalStack at `endpoint`, or undefined if nothing (or not LocalStack) answers. */
export async function checkHealth(endpoint: string): Promise<Health | undefined> {
  try {
    const res = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { services?: Record<string, string>; version?: string };
    const services = body.services ?? {};
    const missing = SERVICES.filter((s) => services[s] !== "available" && services[s] !== "running");
    return { ok: missing.length === 0, version: body.version ?? "unknown", missing };
  } catch {
    return undefined;
  }
}

async function releaseUser(): Promise<void> {
  await withStateLock(() => undefined, async () => {
    await removeUser();
    if ((await liveUsers()).length > 0) return;
    const server = await readServer();
    if (!server) return;
    if (isLocalStackPid(server.pid)) await stopServer(server.pid);
    await rm(SERVER_FILE, { force: true });
    await rm(path.join(VENV, "filesystem", "tmp"), { recursive: true, force: true });
  });
}

/**
 * Runs `fn` holding test-artifacts/localstack/lock (a file naming its holder's pid, made with link() so it
 * appears complete or not at all). A lock whose holder died is taken over.
 */
async function withStateLock<T>(log: Log, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(STATE_DIR, "lock");
  const mine = path.join(STATE_DIR, `lock.${process.pid}`);
  await mkdir(STATE_DIR, { recursive: true });
  await writeFile(mine, String(process.pid));
  let waited = false;
  const deadline = Date.now() + 15 * 60_000;
  try {
    for (;;) {
      try {
        await link(mine, lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = Number(await readFile(lock, "utf8").catch(() => "0"));
      if (holder === process.pid || (holder > 0 && !isAlive(holder))) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`LocalStack harness: process ${holder} has held ${lock} for 15 minutes`);
      if (!waited) log(`localstack: waiting for process ${holder}, which is starting or stopping LocalStack`);
      waited = true;
      await sleep(250);
    }
  } finally {
    await rm(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

async function stopServer(pid: number): Promise<void> {
  signalGroup(pid, "SIGTERM");
  // Nothing to save (persistence is off), so a short grace period: its own shutdown can take 10-15 s.
  for (let i = 0; i < 20 && isAlive(pid); i++) await sleep(250);
  if (!isAlive(pid)) return;
  signalGroup(pid, "SIGKILL");
  for (let i = 0; i < 20 && isAlive(pid); i++) await sleep(100);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

async function addUser(): Promise<void> {
  await mkdir(USERS_DIR, { recursive: true });
  await writeFile(path.join(USERS_DIR, String(process.pid)), new Date().toISOString());
}

async function removeUser(): Promise<void> {
  await rm(path.join(USERS_DIR, String(process.pid)), { force: true });
}

/** Users whose process is still alive; leases of crashed runs are removed. */
async function liveUsers(): Promise<number[]> {
  let names: string[] = [];
  try {
    names = await readdir(USERS_DIR);
  } catch {
    return [];
  }
  const live: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (Number.isInteger(pid) && isAlive(pid)) live.push(pid);
    else await rm(path.join(USERS_DIR, name), { force: true });
  }
  return live;
}

async function readServer(): Promise<{ pid: number; endpoint: string } | undefined> {
  try {
    return JSON.parse(await readFile(SERVER_FILE, "utf8")) as { pid: number; endpoint: string };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Alive and really our runtime (a recorded pid may have been reused by another program). */
function isLocalStackPid(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("localstack.runtime.main");
  } catch {
    return true;
  }
}

function logTail(lines = 40): string {
  try {
    return readFileSync(LOG_FILE, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
