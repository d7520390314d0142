/**
 * One throwaway deployment on disk for the upgrade tests, driven only through the built binaries:
 * `agentlabd --config PATH` as a child process and the `agentlab` CLI over control's Unix socket.
 * Everything lives under one mkdtemp (mode 0711, so sandboxes running as uid 65534 can pass
 * through to their own directories); `remove()` deletes it all.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const AGENTLABD_BIN = join(REPO_ROOT, "services/agentlabd/bin/agentlabd.mjs");
export const AGENTLAB_BIN = join(REPO_ROOT, "clients/cli/bin/agentlab.mjs");

export interface UpgradeDeployment {
  dir: string;
  configPath: string;
  profilesDir: string;
  dataDir: string;
  runDir: string;
  /** Control's socket: what the CLI talks to. */
  socketPath: string;
  /** The artifacts service's socket: what `job artifacts download` reads from. */
  artifactsSocketPath: string;
  artifactDir: string;
  /** Where the local backend keeps its sandboxes (`<data_dir>/sandboxes`). */
  sandboxDir: string;
  remove(): void;
}

export function createUpgradeDeployment(prefix: string): UpgradeDeployment {
  const dir = mkdtempSync(join(tmpdir(), `agentlab-upgrade-${prefix}-`));
  chmodSync(dir, 0o711);
  const profilesDir = join(dir, "profiles");
  const dataDir = join(dir, "data");
  const runDir = join(dir, "run");
  for (const d of [profilesDir, dataDir, runDir]) mkdirSync(d, { recursive: true });
  chmodSync(dataDir, 0o711);
  return {
    dir,
    configPath: join(dir, "config.yaml"),
    profilesDir,
    dataDir,
    runDir,
    socketPath: join(runDir, "agentlabd.sock"),
    artifactsSocketPath: join(runDir, "artifacts.sock"),
    artifactDir: join(dataDir, "artifacts"),
    sandboxDir: join(dataDir, "sandboxes"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * config.yaml (mode 0600: every service refuses a config others can read) with the deployment's
 * folders plus `values`. Values are written as JSON, which is YAML, so URLs and tokens need no quoting.
 */
export function writeConfig(deployment: UpgradeDeployment, values: Record<string, unknown>): void {
  const all = {
    data_dir: deployment.dataDir,
    run_dir: deployment.runDir,
    profiles_dir: deployment.profilesDir,
    secrets_dir: join(deployment.dir, "secrets"),
    deployment_id: "upgrade",
    log_level: "warn",
    ...values,
  };
  const text = Object.entries(all)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join("\n");
  writeFileSync(deployment.configPath, `${text}\n`, { mode: 0o600 });
}

/** The local-backend keys: guest listeners on loopback only (never bound for local sandboxes anyway). */
export async function localBackendConfig(): Promise<Record<string, unknown>> {
  return {
    sandbox_backend: "local",
    bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
    artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
    agent_subnet: "127.0.0.0/8",
  };
}

/** The shipped local profile, as an operator following the guide would have it. */
export function installShippedProfile(deployment: UpgradeDeployment, name: string): void {
  copyFileSync(join(REPO_ROOT, "deploy/profiles", `${name}.yaml`), join(deployment.profilesDir, `${name}.yaml`));
}

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no TCP address for a probe listener");
  return address.port;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a binary to completion. Asynchronous on purpose: a simulator living in this process must
 * keep answering while the child waits on it.
 */
export function runNode(
  args: string[],
  options: { env?: Record<string, string | undefined> } = {},
): Promise<ProcessResult> {
  return runProcess(process.execPath, args, options);
}

export function runProcess(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined> } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** `agentlabd --config PATH <args>` for the commands that run and exit (migrate, backup, restore, --config-check). */
export function agentlabdCommand(deployment: UpgradeDeployment, args: string[]): Promise<ProcessResult> {
  return runNode([AGENTLABD_BIN, "--config", deployment.configPath, ...args]);
}

/** The CLI against this deployment's sockets. */
export function cli(deployment: UpgradeDeployment, args: string[]): Promise<ProcessResult> {
  return runNode([
    AGENTLAB_BIN,
    "--socket",
    deployment.socketPath,
    "--artifacts-socket",
    deployment.artifactsSocketPath,
    ...args,
  ]);
}

/** A CLI command that must succeed; the failure message carries both streams. */
export async function cliOk(deployment: UpgradeDeployment, args: string[]): Promise<string> {
  const result = await cli(deployment, args);
  if (result.code !== 0) {
    throw new Error(
      `agentlab ${args.join(" ")} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result.stdout;
}

export async function cliJson<T = unknown>(deployment: UpgradeDeployment, args: string[]): Promise<T> {
  return JSON.parse(await cliOk(deployment, [...args, "--output", "json"])) as T;
}

export interface RunningAgentlabd {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, as systemd stops it, and wait for the exit (SIGKILL after a long grace). */
  stop(): Promise<number | null>;
}

/**
 * Starts the serving daemon and resolves once all three services listen: agentlabd opens runner,
 * control and artifacts in that order, so the artifacts socket existing means everything serves.
 * Rejects with its stderr if it exits first (a refused migration, a bad config).
 */
export async function startAgentlabd(
  deployment: UpgradeDeployment,
  options: { env?: Record<string, string> } = {},
): Promise<RunningAgentlabd> {
  rmSync(deployment.artifactsSocketPath, { force: true });
  const child = spawn(process.execPath, [AGENTLABD_BIN, "--config", deployment.configPath], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const stop = async (): Promise<number | null> => {
    if (exitCode !== undefined) return exitCode;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      return await exited;
    } finally {
      clearTimeout(killer);
    }
  };
  while (!existsSync(deployment.artifactsSocketPath)) {
    if (exitCode !== undefined) {
      throw new Error(`agentlabd exited with ${exitCode} before serving:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { child, pid: child.pid ?? -1, stdout: () => stdout, stderr: () => stderr, stop };
}
