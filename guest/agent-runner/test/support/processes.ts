import { readdirSync, readFileSync } from "node:fs";

/** Whether a process exists and is not a zombie waiting to be reaped by an init that never does. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Whether any live (non-zombie) process belongs to the process group, read from /proc. */
export function groupAlive(pgid: number): boolean {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields after the command: state, ppid, pgrp, …
      if (Number(fields[2]) === pgid && fields[0] !== "Z") return true;
    } catch {
      // Exited while we looked.
    }
  }
  return false;
}

/**
 * A cleanup for an agent that wrote its PID (= its process group) to `pidFile`: SIGKILLs the group if
 * a failed test left it behind. Agents run detached, so killing the guest alone would not reach it.
 */
export function killGroupOnCleanup(pidFile: string, cleanups: (() => void | Promise<void>)[]): void {
  cleanups.push(() => {
    let pgid: number;
    try {
      pgid = Number(readFileSync(pidFile, "utf8"));
    } catch {
      return;
    }
    if (!(pgid > 1)) return;
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // Gone already, as it should be.
    }
  });
}
