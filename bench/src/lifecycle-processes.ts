/**
 * The processes the lifecycle benchmark measures: pve-sim and agentlabd, each its own child (so
 * /proc/<pid>/stat gives each one's CPU time), both stopped with SIGTERM at the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createInterface } from "node:readline";
import type { RequestLogEntry } from "@agentlab/pve-sim";

const root = new URL("../../", import.meta.url).pathname;
export const PVE_SIM_BIN = `${root}tools/pve-sim/bin/pve-sim.mjs`;
export const AGENTLABD_BIN = `${root}services/agentlabd/bin/agentlabd.mjs`;

export interface SimInfo {
  url: string;
  fingerprint: string;
  token: string;
  /** The `x-pvesim-secret` of the simulator's /__sim control API. */
  cliSecret: string;
  pid: number;
}

/** Every request the simulator answered (GET /__sim/requests), its certificate pinned by fingerprint. */
export function simRequestLog(info: SimInfo): Promise<RequestLogEntry[]> {
  const url = new URL("/__sim/requests", info.url);
  const pinned = info.fingerprint.toUpperCase();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      headers: { "x-pvesim-secret": info.cliSecret },
      rejectUnauthorized: false,
      checkServerIdentity: (_host, cert) =>
        cert.fingerprint256.toUpperCase() === pinned ? undefined : new Error("pve-sim certificate mismatch"),
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.end();
  });
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

/**
 * Starts `pve-sim` and reads the one JSON line it prints once serving. BENCH_CPU_PROFILE_DIR=dir
 * (diagnostic) writes its CPU profile there too, as pve-sim.cpuprofile.
 */
export async function startPveSim(args: string[]): Promise<{ child: Child; info: SimInfo }> {
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const nodeArgs = profileDir
    ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, "--cpu-prof-name=pve-sim.cpuprofile"]
    : [];
  const proc = spawn(process.execPath, [...nodeArgs, PVE_SIM_BIN, ...args], { stdio: ["ignore", "pipe", "inherit"] });
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
 * BENCH_CPU_PROFILE_DIR=dir (diagnostic) writes a V8 CPU profile of agentlabd there when it stops;
 * BENCH_AGENTLABD_NODE_FLAGS="--flag …" (diagnostic) passes Node/V8 flags to agentlabd alone.
 */
export async function startAgentlabd(configPath: string, readySocket: string): Promise<Child> {
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const nodeArgs = [
    ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
    ...(process.env.BENCH_AGENTLABD_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
  ];
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

/** utime + stime in seconds from a /proc stat line (fields 14 and 15, in clock ticks). */
function statCpuSeconds(stat: string): number {
  // Fields after the command name, which is parenthesised and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** utime + stime of a process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

/** utime + stime of each thread of a process, in seconds, by thread id (the main thread's is the pid). */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(Number(tid), statCpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS = 100;
