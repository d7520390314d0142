import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

/** The bundle `npm run build` writes (vitest's global setup rebuilds it before the suite). */
export const GUEST_BUNDLE = join(import.meta.dirname, "..", "..", "dist", "agentlab-guest.mjs");

export interface GuestProcess {
  child: ChildProcess;
  pid: number;
  /** Settles when the process has exited and its pipes are closed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/**
 * Starts the bundled guest as a real process, as systemd or a sandbox would, so that tests can send
 * it real signals. The cleanup SIGKILLs it by its PID if a failed test left it running.
 */
export function startBundledGuest(env: NodeJS.ProcessEnv, cleanups: (() => void | Promise<void>)[]): GuestProcess {
  const child = spawn(process.execPath, [GUEST_BUNDLE], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  if (child.pid === undefined) throw new Error("the guest did not start");
  return { child, pid: child.pid, exited, stderr: () => stderr };
}

/** Polls until `probe` returns something other than undefined; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined,
  timeoutMs = 20_000,
  intervalMs = 20,
): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
