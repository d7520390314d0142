import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface CgroupResult {
  /** The sandbox's cgroup directory when limits apply. */
  path?: string;
  /** Why limits were not applied (cgroup v1 host, controller not delegated, no permission). */
  skipped?: string;
}

/**
 * Creates `<cgroupRoot>/agentlab/<vmid>` with cpu.max and memory.max and moves the given pids in.
 * Limits are best effort: a host without cgroup v2, or without the controllers delegated to us, gets
 * a sandbox without limits and a reason the caller logs, never a failed start.
 */
export function applyCgroupLimits(
  cgroupRoot: string,
  vmid: number,
  limits: { cores?: number; memoryMb?: number },
  pids: number[],
): CgroupResult {
  if (limits.cores === undefined && limits.memoryMb === undefined) return { skipped: "no cores or memory requested" };
  const controllersFile = path.join(cgroupRoot, "cgroup.controllers");
  if (!existsSync(controllersFile))
    return { skipped: `no cgroup v2 hierarchy at ${cgroupRoot} (cgroup v1 or hybrid host)` };
  try {
    const available = readFileSync(controllersFile, "utf8").trim().split(/\s+/);
    const wanted = ["cpu", "memory"].filter((c) => available.includes(c));
    if (wanted.length === 0) return { skipped: `cgroup v2 at ${cgroupRoot} offers neither cpu nor memory controllers` };
    const parent = path.join(cgroupRoot, "agentlab");
    mkdirSync(parent, { recursive: true });
    const enable = wanted.map((c) => `+${c}`).join(" ");
    writeFileSync(path.join(cgroupRoot, "cgroup.subtree_control"), enable);
    writeFileSync(path.join(parent, "cgroup.subtree_control"), enable);
    const dir = path.join(parent, String(vmid));
    mkdirSync(dir, { recursive: true });
    if (limits.cores !== undefined && wanted.includes("cpu")) {
      writeFileSync(path.join(dir, "cpu.max"), `${Math.round(limits.cores * 100000)} 100000`);
    }
    if (limits.memoryMb !== undefined && wanted.includes("memory")) {
      writeFileSync(path.join(dir, "memory.max"), String(limits.memoryMb * 1024 * 1024));
    }
    for (const pid of pids) writeFileSync(path.join(dir, "cgroup.procs"), String(pid));
    return { path: dir };
  } catch (err) {
    return { skipped: `cgroup v2 limits could not be applied: ${(err as Error).message}` };
  }
}

/** Removes the sandbox's cgroup once its processes are gone; a cgroup that is already gone is fine. */
export function removeCgroup(cgroupPath: string | undefined): void {
  if (!cgroupPath) return;
  try {
    rmdirSync(cgroupPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
