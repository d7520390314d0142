/**
 * Runs the bundled `agentlab` CLI against a control socket. Asynchronous on purpose: the simulator
 * may live in the test process, and a blocking spawnSync would freeze the very server the
 * command is waiting on.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./agentlabd-process.js";

export const AGENTLAB_CLI_BIN = join(REPO_ROOT, "clients/cli/bin/agentlab.mjs");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(socketPath: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENTLAB_CLI_BIN, "--socket", socketPath, ...args], {
      // No TTY and no colour: the output is what a script would capture.
      env: { ...process.env, NO_COLOR: "1" },
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

/** Runs a command that must succeed and returns its stdout; the failure message carries both streams. */
export async function cliOk(socketPath: string, args: string[]): Promise<string> {
  const result = await runCli(socketPath, args);
  if (result.code !== 0) {
    throw new Error(
      `agentlab ${args.join(" ")} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result.stdout;
}

export async function cliJson<T = unknown>(socketPath: string, args: string[]): Promise<T> {
  return JSON.parse(await cliOk(socketPath, [...args, "--output", "json"])) as T;
}
