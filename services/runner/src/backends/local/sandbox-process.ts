import type { spawn as nodeSpawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readlinkSync } from "node:fs";
import type { CallContext } from "../../backend.js";
import { BackendError } from "../../backend-errors.js";
import { isProcessAlive, listDescendants, type ProcStat, readProcStat, readProcStatus } from "./proc-process-table.js";
import type { LauncherCommand } from "./sandbox-launch-spec.js";

export interface SandboxProcessDeps {
  spawn: typeof nodeSpawn;
  now: () => Date;
  pollIntervalMs: number;
}

/** The launcher process: leader of the sandbox's session and process group. */
export interface LaunchedSandbox {
  pid: number;
  startTime: string;
}

/** A launcher this runner process spawned: its exit status is known once Node has reaped it. */
export interface SpawnedSandbox extends LaunchedSandbox {
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Spawns the launcher detached (its own session and process group) with stdout and stderr appended to
 * the console log, and lets go of it: the sandbox must outlive this runner process.
 */
export async function launchSandbox(
  deps: SandboxProcessDeps,
  command: LauncherCommand,
  consoleLog: string,
  env: Record<string, string>,
): Promise<SpawnedSandbox> {
  const logFd = openSync(consoleLog, "a", 0o600);
  try {
    const child = deps.spawn(command.file, command.args, {
      detached: true,
      stdio: ["ignore", logFd, logFd],
      cwd: "/",
      env,
      uid: command.uid,
      gid: command.gid,
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    }).catch((err: Error) => {
      throw new BackendError("unavailable", `cannot start sandbox launcher ${command.file}: ${err.message}`, {
        hint: "check that the isolation tool is installed and executable",
      });
    });
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on("exit", (code, signal) => {
      exit = { code, signal };
    });
    child.on("error", () => {});
    child.unref();
    const stat = child.pid === undefined ? undefined : readProcStat(child.pid);
    if (child.pid === undefined || !stat) {
      throw new BackendError("task_failed", `sandbox launcher ${command.file} exited at once`, {
        hint: `see ${consoleLog}`,
      });
    }
    return { pid: child.pid, startTime: stat.startTime, exitStatus: () => exit };
  } finally {
    closeSync(logFd);
  }
}

function lastLines(file: string, count: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-count).join("\n");
  } catch {
    return "";
  }
}

/**
 * The sandbox is up once a process in its own PID namespace runs as the unprivileged host uid with no
 * effective capability and no_new_privs: the mounts are done and credentials dropped for good.
 */
function findSandboxedProcess(launcher: LaunchedSandbox, hostUid: number): ProcStat | undefined {
  const ownPidNs = readlinkSync("/proc/self/ns/pid");
  return listDescendants(launcher.pid).find((proc) => {
    const status = readProcStatus(proc.pid);
    if (!status) return false;
    let pidNs: string;
    try {
      pidNs = readlinkSync(`/proc/${proc.pid}/ns/pid`);
    } catch {
      return false;
    }
    return (
      pidNs !== ownPidNs &&
      status.get("Uid")?.split(/\s+/)[0] === String(hostUid) &&
      status.get("NoNewPrivs") === "1" &&
      /^0+$/.test(status.get("CapEff") ?? "")
    );
  });
}

export async function waitUntilSandboxed(
  deps: SandboxProcessDeps,
  ctx: CallContext,
  vmid: number,
  launcher: SpawnedSandbox,
  hostUid: number,
  consoleLog: string,
): Promise<void> {
  for (;;) {
    if (findSandboxedProcess(launcher, hostUid)) return;
    const exit = launcher.exitStatus();
    // A guest may legitimately finish before we look: exit 0 means it ran; anything else is a failure
    // of the launcher's setup or of the guest itself, and the console log says which.
    if (exit?.code === 0) return;
    if (exit) {
      const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
      throw new BackendError(
        "task_failed",
        `sandbox ${vmid} exited during start (${how}): ${lastLines(consoleLog, 5)}`,
        {
          vmid,
          hint: `see ${consoleLog}`,
        },
      );
    }
    assertBeforeDeadline(deps, ctx, `waiting for sandbox ${vmid} to start`);
    await sleep(deps.pollIntervalMs);
  }
}

export function assertBeforeDeadline(deps: Pick<SandboxProcessDeps, "now">, ctx: CallContext, what: string): void {
  if (ctx.signal?.aborted) throw new BackendError("deadline", `cancelled while ${what}`);
  if (deps.now().getTime() > ctx.deadline) {
    throw new BackendError("deadline", `deadline passed while ${what}`, { hint: "retry with a later deadline" });
  }
}

function signalSandbox(launcher: LaunchedSandbox, members: ProcStat[], signal: NodeJS.Signals): void {
  const targets = [-launcher.pid, launcher.pid, ...members.map((m) => m.pid)];
  for (const target of targets) {
    try {
      process.kill(target, signal);
    } catch {}
  }
}

/**
 * TERM to the process group and every descendant (members that called setsid left the group), then
 * KILL after the grace period. Killing the PID namespace's init takes every process inside with it.
 */
export async function terminateSandbox(
  deps: SandboxProcessDeps,
  ctx: CallContext,
  vmid: number,
  launcher: LaunchedSandbox,
  graceMs: number,
): Promise<void> {
  if (!isProcessAlive(launcher.pid, launcher.startTime)) return;
  // Listed before signalling: once the launcher dies its children are re-parented out of reach.
  const members = listDescendants(launcher.pid);
  const allGone = () =>
    !isProcessAlive(launcher.pid, launcher.startTime) && members.every((m) => !isProcessAlive(m.pid, m.startTime));
  signalSandbox(launcher, members, "SIGTERM");
  const killAt = deps.now().getTime() + graceMs;
  while (!allGone() && deps.now().getTime() < killAt) await sleep(deps.pollIntervalMs);
  if (allGone()) return;
  signalSandbox(launcher, [...members, ...listDescendants(launcher.pid)], "SIGKILL");
  while (!allGone()) {
    assertBeforeDeadline(deps, ctx, `waiting for sandbox ${vmid} to die after SIGKILL`);
    await sleep(deps.pollIntervalMs);
  }
}
