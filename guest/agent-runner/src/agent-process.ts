import type { ChildProcess } from "node:child_process";
import type { Spawner } from "./git-command.js";
import { GuestError } from "./guest-error.js";

export type OutputStream = "stdout" | "stderr";
/** canceled by control, the job's TTL, or the guest runner itself being stopped (SIGTERM/SIGINT). */
export type StopReason = "canceled" | "timeout" | "signal";

export interface AgentProcessRequest {
  /** Shell command line, run as `/bin/sh -c <command>`. */
  command: string;
  cwd: string;
  env: Record<string, string>;
  /** Written to the agent's stdin, which is then closed. */
  stdin: string;
  spawn: Spawner;
  /** Decoded output, in arrival order per stream. */
  onOutput: (stream: OutputStream, text: string) => void;
  /** The agent is stopped (→ TIMEOUT) after this long. */
  ttlMs: number;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs: number;
}

export interface AgentResult {
  /** The shell's exit code; null when it died of a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the guest stopped the agent. */
  stoppedBy?: StopReason;
}

export interface AgentProcess {
  readonly pid: number;
  /** Settles once the agent exited and its output is drained. */
  readonly result: Promise<AgentResult>;
  /** Why the guest is stopping it, once it is. */
  readonly stoppedBy: StopReason | undefined;
  /**
   * SIGTERM to the whole process group, SIGKILL after the grace period. Idempotent: the first reason
   * sticks, so a cancel or TTL that came first is what the result reports.
   */
  stop(reason: StopReason): void;
  /** SIGKILL to the whole group now: the guest is exiting at once and must not leave it behind. */
  kill(): void;
}

// setTimeout silently fires at once for delays above 2^31-1 ms (~24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // A negative pid addresses the process group the agent leads (spawned detached).
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Starts the agent in its own process group, so that stopping it also stops everything it started
 * (a test server, a stray `sleep`), whichever way it ends: TTL, cancel, or its own exit.
 */
export function startAgentProcess(request: AgentProcessRequest): AgentProcess {
  let child: ChildProcess;
  try {
    child = request.spawn("/bin/sh", ["-c", request.command], {
      cwd: request.cwd,
      env: request.env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (err) {
    throw new GuestError(`cannot start the agent: ${(err as Error).message}`, "check that /bin/sh exists", {
      cause: err,
    });
  }
  let stoppedBy: StopReason | undefined;
  let exited = false;
  let graceTimer: NodeJS.Timeout | undefined;

  const stop = (reason: StopReason) => {
    if (exited || stoppedBy) return;
    stoppedBy = reason;
    signalGroup(child, "SIGTERM");
    graceTimer = setTimeout(() => signalGroup(child, "SIGKILL"), request.killGraceMs);
  };
  const ttlTimer = setTimeout(() => stop("timeout"), Math.min(Math.max(request.ttlMs, 0), MAX_TIMER_MS));

  const decoders = { stdout: new TextDecoder("utf-8"), stderr: new TextDecoder("utf-8") };
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream]?.on("data", (chunk: Buffer) => {
      const text = decoders[stream].decode(chunk, { stream: true });
      if (text) request.onOutput(stream, text);
    });
  }
  // An agent that never reads its stdin makes the write fail with EPIPE; that is its business.
  child.stdin?.on("error", () => {});
  child.stdin?.end(request.stdin);

  const result = new Promise<AgentResult>((resolve, reject) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    child.on("error", (err) => {
      clearTimeout(ttlTimer);
      reject(new GuestError(`cannot start the agent: ${err.message}`, "check that /bin/sh exists", { cause: err }));
    });
    child.on("exit", (code, signal) => {
      exited = true;
      exit = { code, signal };
      clearTimeout(ttlTimer);
      // Background processes of the agent would keep its pipes open (and run on unsupervised).
      signalGroup(child, "SIGKILL");
    });
    child.on("close", () => {
      clearTimeout(graceTimer);
      for (const stream of ["stdout", "stderr"] as const) {
        const rest = decoders[stream].decode();
        if (rest) request.onOutput(stream, rest);
      }
      resolve({ exitCode: exit.code, signal: exit.signal, ...(stoppedBy ? { stoppedBy } : {}) });
    });
  });
  const kill = () => {
    if (!exited) signalGroup(child, "SIGKILL");
  };
  return {
    pid: child.pid ?? -1,
    result,
    get stoppedBy() {
      return stoppedBy;
    },
    stop,
    kill,
  };
}
