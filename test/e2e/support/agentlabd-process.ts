/**
 * Runs the bundled `agentlabd` binary as a real child process and stops it the way systemd does
 * (SIGTERM, then wait). Readiness is "the last socket it opens exists": agentlabd starts runner,
 * control and artifacts in that order, so the artifacts socket means all three are serving.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const AGENTLABD_BIN = join(REPO_ROOT, "services/agentlabd/bin/agentlabd.mjs");

export interface AgentlabdProcess {
  child: ChildProcess;
  /** Everything written to stderr so far (logs at warn and above), for failure messages. */
  stderr(): string;
  /** Everything written to stdout so far (logs below warn), e.g. to check that no secret is logged. */
  stdout(): string;
  /** SIGTERM and wait for the exit; SIGKILL if it has not gone after `graceMs`. Returns the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export async function startAgentlabd(options: {
  configPath: string;
  runDir: string;
  env?: Record<string, string>;
}): Promise<AgentlabdProcess> {
  const child = spawn(process.execPath, [AGENTLABD_BIN, "--config", options.configPath], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let stdout = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const stop = async (graceMs = 20_000): Promise<number | null> => {
    if (hasExited) return exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const readySocket = join(options.runDir, "artifacts.sock");
  const giveUpAt = Date.now() + 30_000;
  while (!existsSync(readySocket)) {
    if (hasExited) throw new Error(`agentlabd exited before serving:\n${stderr}`);
    if (Date.now() > giveUpAt) {
      await stop();
      throw new Error(`agentlabd did not open ${readySocket} within 30 s:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { child, stderr: () => stderr, stdout: () => stdout, stop };
}
