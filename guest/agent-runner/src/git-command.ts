import type { spawn as nodeSpawn, SpawnOptions } from "node:child_process";
import { GuestError } from "./guest-error.js";

/** Starts a process; injected so tests can observe or replace what the guest runs. */
export type Spawner = typeof nodeSpawn;

/**
 * Options every git call gets. Repository hooks never run (a reused `.git` may carry planted ones,
 * reference §8 item 28), and git never stops to ask for a password on a terminal nobody watches.
 */
export const SAFE_GIT_OPTIONS = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"];

export interface GitRunner {
  /** Runs git in `cwd`; resolves with stdout; rejects with a GuestError carrying stderr. */
  run(cwd: string, args: string[], extraEnv?: Record<string, string>): Promise<string>;
  /** Runs git with stdout sent to an open file descriptor (large output such as a patch). */
  runToFd(cwd: string, args: string[], fd: number, extraEnv?: Record<string, string>): Promise<void>;
}

export interface GitRunnerOptions {
  spawn: Spawner;
  /** Environment for git: the guest's, plus credentials and GIT_TERMINAL_PROMPT=0. */
  env: Record<string, string | undefined>;
  /** Added to `env` for every command (credentials installed after the runner was made). */
  extraEnv?: () => Record<string, string>;
  /** Hides secrets in error messages (a URL with a token in it, for example). */
  redact: (text: string) => string;
  /** Aborting it kills the running git (SIGTERM) and fails the call: a clone the guest gives up on. */
  signal?: AbortSignal;
}

const STDERR_TAIL = 2_000;

export function createGitRunner(options: GitRunnerOptions): GitRunner {
  const exec = (cwd: string, args: string[], stdout: "pipe" | number, extraEnv?: Record<string, string>) =>
    new Promise<string>((resolve, reject) => {
      const spawnOptions: SpawnOptions = {
        cwd,
        env: { ...options.env, ...options.extraEnv?.(), ...extraEnv, GIT_TERMINAL_PROMPT: "0" },
        stdio: ["ignore", stdout, "pipe"],
        ...(options.signal ? { signal: options.signal } : {}),
      };
      const child = options.spawn("git", [...SAFE_GIT_OPTIONS, ...args], spawnOptions);
      const out: Buffer[] = [];
      let err = "";
      child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr?.on("data", (chunk: Buffer) => {
        err = (err + chunk.toString("utf8")).slice(-STDERR_TAIL);
      });
      child.on("error", (cause) => {
        if (options.signal?.aborted) {
          reject(new GuestError(`git ${args[0]} was stopped: the guest runner is stopping`, "", { cause }));
          return;
        }
        reject(new GuestError(`cannot run git: ${cause.message}`, "install git in the sandbox template", { cause }));
      });
      child.on("close", (code, signal) => {
        if (code === 0) {
          resolve(Buffer.concat(out).toString("utf8"));
          return;
        }
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const detail = options.redact(err.trim());
        reject(new GuestError(`git ${args[0]} ${how}${detail ? `: ${detail}` : ""}`, ""));
      });
    });
  return {
    run: (cwd, args, extraEnv) => exec(cwd, args, "pipe", extraEnv),
    runToFd: async (cwd, args, fd, extraEnv) => {
      await exec(cwd, args, fd, extraEnv);
    },
  };
}
