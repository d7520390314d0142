/**
 * The processes the lifecycle benchmark measures: pve-sim and agentlabd, each its own child (so
 * /proc/<pid>/stat gives each one's CPU time), both stopped with SIGTERM at the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const root = new URL("../../", import.meta.url).pathname;
export const PVE_SIM_BIN = `${root}tools/pve-sim/bin/pve-sim.mjs`;
export const AGENTLABD_BIN = `${root}services/agentlabd/bin/agentlabd.mjs`;

export interface SimInfo {
  url: string;
  fingerprint: string;
  token: string;
  pid: number;
}

export interface Child {
  process: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

function track(child: ChildProcess): Child {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts `pve-sim` and reads the one JSON line it prints once serving. */
export async function startPveSim(args: string[]): Promise<{ child: Child; info: SimInfo }> {
  const proc = spawn(process.execPath, [PVE_SIM_BIN, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const child = track(proc);
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    lines.close();
    proc.stdout?.resume();
    return { child, info: JSON.parse(line) as SimInfo };
  }
  throw new Error("pve-sim exited before printing its address");
}

/**
 * Starts agentlabd and waits for its last socket (artifacts: runner and control are up by then).
 * BENCH_CPU_PROFILE_DIR=dir (diagnostic) writes a V8 CPU profile of agentlabd there when it stops.
 */
export async function startAgentlabd(configPath: string, readySocket: string): Promise<Child> {
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const nodeArgs = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, AGENTLABD_BIN, "--config", configPath], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const child = track(proc);
  const giveUpAt = Date.now() + 30_000;
  while (!existsSync(readySocket)) {
    if (proc.exitCode !== null) throw new Error(`agentlabd exited with ${proc.exitCode} before serving`);
    if (Date.now() > giveUpAt) {
      await child.stop();
      throw new Error(`agentlabd did not open ${readySocket} within 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return child;
}

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is parenthesised and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS = 100;
