import { readdirSync, readFileSync } from "node:fs";

/** One line of /proc/<pid>/stat, the fields we need. */
export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), X (dead), … */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks since boot: together with the pid it names one process, defeating PID reuse. */
  startTime: string;
}

/** Parses after the last `)` because the command name may itself contain spaces and parentheses. */
export function readProcStat(pid: number, procRoot = "/proc"): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 of proc(5): state; ppid is 4, pgrp 5, starttime 22.
  return {
    pid,
    state: fields[0] ?? "?",
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: fields[19] ?? "",
  };
}

/** True while the process recorded as (pid, startTime) still exists and has not exited. */
export function isProcessAlive(pid: number, startTime: string, procRoot = "/proc"): boolean {
  const stat = readProcStat(pid, procRoot);
  return stat !== undefined && stat.startTime === startTime && stat.state !== "Z" && stat.state !== "X";
}

/** Every live process below `pid` (children, grandchildren, …), found by walking ppid links in /proc. */
export function listDescendants(pid: number, procRoot = "/proc"): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry), procRoot);
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(stat);
    children.set(stat.ppid, siblings);
  }
  const found: ProcStat[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Fields of /proc/<pid>/status, e.g. `CapEff`, `NoNewPrivs`, `Uid`. */
export function readProcStatus(pid: number, procRoot = "/proc"): Map<string, string> | undefined {
  try {
    const text = readFileSync(`${procRoot}/${pid}/status`, "utf8");
    return new Map(
      text
        .split("\n")
        .filter((line) => line.includes(":"))
        .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
    );
  } catch {
    return undefined;
  }
}
