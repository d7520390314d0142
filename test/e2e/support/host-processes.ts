/**
 * What is running on this host that belongs to a test deployment, read from /proc (tests run as
 * root, so every process's cmdline, environ and cwd are readable). A process belongs to a
 * deployment when its command line, environment or working directory names the deployment's
 * directory (sandbox launchers bind its sandbox dirs; simulated guests get private dirs in it; their
 * agents run in checkouts there), or when it descends from such a process.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface HostProcess {
  pid: number;
  ppid: number;
  cmdline: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Field 4, after the parenthesised command name (which may itself hold spaces or parentheses).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // A zombie has exited: it holds nothing and is reaped by its parent.
  if (fields[0] === "Z") return undefined;
  return Number(fields[1]);
}

/** Every live (non-zombie) process on the host. */
export function listHostProcesses(): HostProcess[] {
  const all: HostProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    all.push({ pid, ppid, cmdline: (read(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ").trim() });
  }
  return all;
}

function mentions(pid: number, dir: string): boolean {
  if (read(`/proc/${pid}/cmdline`)?.includes(dir)) return true;
  if (read(`/proc/${pid}/environ`)?.includes(dir)) return true;
  try {
    return readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
  } catch {
    return false;
  }
}

/**
 * The processes that belong to `dir` (see above), except `exclude` (agentlabd itself: its command
 * line names the deployment's config) and this test process.
 */
export function processesOf(dir: string, exclude: Array<number | undefined> = []): HostProcess[] {
  const skip = new Set([process.pid, ...exclude.filter((pid): pid is number => pid !== undefined)]);
  const all = listHostProcesses();
  const belongs = new Set(all.filter((p) => !skip.has(p.pid) && mentions(p.pid, dir)).map((p) => p.pid));
  // Descendants too: an agent inside a namespace sandbox names nothing of the host's paths.
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!belongs.has(p.pid) && !skip.has(p.pid) && belongs.has(p.ppid)) {
        belongs.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => belongs.has(p.pid));
}

/** Processes whose command line contains `marker` (e.g. an agent's unique sleep). */
export function processesWithCommand(marker: string): HostProcess[] {
  return listHostProcesses().filter((p) => p.pid !== process.pid && p.cmdline.includes(marker));
}

/** SIGKILLs each process; one that is already gone is fine. */
export function killAll(processes: HostProcess[]): void {
  for (const p of processes) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

/**
 * SIGKILLs each process and waits until none is alive: a signal is delivered asynchronously, so a
 * listing taken right after kill() can still show a busy host's victims running.
 */
export async function killAllAndWait(processes: HostProcess[], timeoutMs = 10_000): Promise<void> {
  killAll(processes);
  const pids = new Set(processes.map((p) => p.pid));
  const giveUpAt = Date.now() + timeoutMs;
  while (listHostProcesses().some((p) => pids.has(p.pid))) {
    if (Date.now() > giveUpAt)
      throw new Error(`processes ${[...pids].join(", ")} still alive ${timeoutMs} ms after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
