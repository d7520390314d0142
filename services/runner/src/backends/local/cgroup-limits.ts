import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface CgroupResult {
  /**
   * The sandbox's cgroup v2 directory, the one field runners before v1 support read: still written
   * beside `paths` so a rolled-back runner removes the cgroup, and read from older state files.
   */
  path?: string;
  /** Every cgroup directory holding the sandbox: one on cgroup v2, one per controller on v1. */
  paths?: string[];
  /** Why limits were not applied (no cgroup hierarchy, controller not delegated, no permission). */
  skipped?: string;
}

export interface CgroupLimits {
  cores?: number;
  memoryMb?: number;
}

/** The CFS period both hierarchies use: a quota of cores × this many µs per period. */
const CPU_PERIOD_US = 100_000;

/**
 * Puts the sandbox's processes under its profile's cpu and memory limits, in `agentlab/<vmid>`:
 * on a cgroup v2 host (`<cgroupRoot>/cgroup.controllers` exists) one directory with cpu.max and
 * memory.max; on a cgroup v1 or hybrid host (Debian 10, many containers) the `cpu` and `memory`
 * hierarchies mounted below `<cgroupRoot>`, with cpu.cfs_quota_us and memory.limit_in_bytes.
 * Limits are best effort: a host without either, or without the controllers delegated to us, gets a
 * sandbox without limits and a reason the caller logs, never a failed start.
 */
export function applyCgroupLimits(
  cgroupRoot: string,
  vmid: number,
  limits: CgroupLimits,
  processes: () => number[],
): CgroupResult {
  if (limits.cores === undefined && limits.memoryMb === undefined) return { skipped: "no cores or memory requested" };
  if (existsSync(path.join(cgroupRoot, "cgroup.controllers"))) return applyV2(cgroupRoot, vmid, limits, processes);
  const v1 = v1Hierarchies(cgroupRoot, limits);
  if (v1.length > 0) return applyV1(v1, vmid, limits, processes);
  return { skipped: `no cgroup v2 hierarchy at ${cgroupRoot}, nor cgroup v1 cpu or memory hierarchies below it` };
}

function applyV2(cgroupRoot: string, vmid: number, limits: CgroupLimits, processes: () => number[]): CgroupResult {
  try {
    const available = readFileSync(path.join(cgroupRoot, "cgroup.controllers"), "utf8").trim().split(/\s+/);
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
      writeFileSync(path.join(dir, "cpu.max"), `${Math.round(limits.cores * CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
    }
    if (limits.memoryMb !== undefined && wanted.includes("memory")) {
      writeFileSync(path.join(dir, "memory.max"), String(limits.memoryMb * 1024 * 1024));
    }
    moveIntoCgroups([dir], processes);
    return { path: dir, paths: [dir] };
  } catch (err) {
    return { skipped: `cgroup v2 limits could not be applied: ${(err as Error).message}` };
  }
}

interface V1Hierarchy {
  controller: "cpu" | "memory";
  mount: string;
}

/** The v1 hierarchies a requested limit needs, where mounted (`cpu` may be the `cpu,cpuacct` link). */
function v1Hierarchies(cgroupRoot: string, limits: CgroupLimits): V1Hierarchy[] {
  const found: V1Hierarchy[] = [];
  const cpu = path.join(cgroupRoot, "cpu");
  if (limits.cores !== undefined && existsSync(path.join(cpu, "cpu.cfs_quota_us")))
    found.push({ controller: "cpu", mount: cpu });
  const memory = path.join(cgroupRoot, "memory");
  if (limits.memoryMb !== undefined && existsSync(path.join(memory, "memory.limit_in_bytes")))
    found.push({ controller: "memory", mount: memory });
  return found;
}

function applyV1(
  hierarchies: V1Hierarchy[],
  vmid: number,
  limits: CgroupLimits,
  processes: () => number[],
): CgroupResult {
  const made: string[] = [];
  try {
    for (const { controller, mount } of hierarchies) {
      const dir = path.join(mount, "agentlab", String(vmid));
      mkdirSync(dir, { recursive: true });
      made.push(dir);
      if (controller === "cpu" && limits.cores !== undefined) {
        writeFileSync(path.join(dir, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
        writeFileSync(path.join(dir, "cpu.cfs_quota_us"), String(Math.round(limits.cores * CPU_PERIOD_US)));
      }
      if (controller === "memory" && limits.memoryMb !== undefined) {
        writeFileSync(path.join(dir, "memory.limit_in_bytes"), String(limits.memoryMb * 1024 * 1024));
      }
    }
    moveIntoCgroups(made, processes);
    return { paths: made };
  } catch (err) {
    // Half-applied limits would look like working ones: undo what was made, report none.
    for (const dir of made.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // still holds a process we moved: it is removed with the sandbox at stop
      }
    }
    return { skipped: `cgroup v1 limits could not be applied: ${(err as Error).message}` };
  }
}

/** Enough for any launcher: each pass only catches forks that raced the previous one. */
const MAX_MOVE_PASSES = 100;

/**
 * Moves the sandbox's processes (the launcher first, then its descendants) into `dirs`. The
 * launcher has already forked when we get here, and a child forked by a process we have not moved
 * yet stays in the runner's cgroup, unlimited — the first version of this lost the whole sandbox
 * that way. So it lists again after each pass and stops only when a listing finds nobody new: from
 * then on every process is inside, and whatever they fork inherits the cgroup.
 */
function moveIntoCgroups(dirs: string[], processes: () => number[]): void {
  const moved = new Set<number>();
  for (let pass = 0; pass < MAX_MOVE_PASSES; pass++) {
    const fresh = processes().filter((pid) => !moved.has(pid));
    if (fresh.length === 0) return;
    for (const pid of fresh) {
      for (const dir of dirs) {
        try {
          writeFileSync(path.join(dir, "cgroup.procs"), String(pid));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err; // it exited meanwhile
        }
      }
      moved.add(pid);
    }
  }
  throw new Error(`the sandbox's processes kept forking faster than ${MAX_MOVE_PASSES} passes could move them`);
}

/**
 * Removes the sandbox's cgroups once its processes are gone; a cgroup that is already gone is fine.
 * A process still inside (one that left the sandbox's process group, or is still exiting) makes
 * rmdir fail with EBUSY: it is the sandbox's by construction, so it is killed and removal retried.
 */
export async function removeCgroup(
  cgroup: CgroupResult | undefined,
  options: { attempts?: number; delayMs?: number } = {},
): Promise<void> {
  const dirs = cgroup?.paths ?? (cgroup?.path ? [cgroup.path] : []);
  const attempts = options.attempts ?? 40;
  for (const dir of dirs) {
    for (let attempt = 1; ; attempt++) {
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") break;
        if (code !== "EBUSY" || attempt >= attempts) {
          throw new Error(`cannot remove the sandbox's cgroup ${dir}: ${(err as Error).message}`, { cause: err });
        }
        killRemaining(dir);
        await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 25));
      }
    }
  }
}

function killRemaining(dir: string): void {
  let pids: number[];
  try {
    pids = readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
