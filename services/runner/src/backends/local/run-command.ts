import type { spawn as nodeSpawn } from "node:child_process";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError?: Error;
}

/** Runs a short helper command to completion, collecting stdout and stderr together. */
export function runCommand(
  spawn: typeof nodeSpawn,
  file: string,
  args: string[],
  options: { uid?: number; gid?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], cwd: "/", ...options });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", (err) => resolve({ code: null, signal: null, output, spawnError: err }));
    child.on("close", (code, signal) => resolve({ code, signal, output: output.trim() }));
  });
}
