/**
 * Where a lifecycle's wall time goes (LIFECYCLE_PHASES=1, diagnostic): the simulator logs when each
 * Proxmox request arrived, the benchmark when it sent CreateSandbox, got READY, sent DestroySandbox
 * and got its answer. The gap before each request of a lifecycle is the time AgentLab spent between
 * two Proxmox requests — its own work, queueing, and sleeps between task polls.
 */
import type { RequestLogEntry } from "@agentlab/pve-sim";
import { percentile } from "./lifecycle-stats.js";

export interface LifecycleTimes {
  vmid: number;
  /** Epoch ms: CreateSandbox sent, READY answered, DestroySandbox sent, DestroySandbox answered. */
  created: number;
  ready: number;
  destroying: number;
  destroyed: number;
}

/** A short name for a request: "POST clone", "GET config", "GET task qmstart", … */
function stepOf(r: RequestLogEntry): string {
  const task = /\/tasks\/[^/]*%3A(qm\w+)%3A/.exec(r.path);
  if (task) return `poll ${task[1]}`;
  const tail = r.path.replace(/^\/nodes\/[^/]+\/qemu\/\d+\/?/, "") || "(vm)";
  return `${r.method} ${tail}`;
}

/**
 * The requests of one VM, in arrival order. A clone's own polls name the template in their UPID and
 * cannot be told apart from concurrent clones' polls: the gap after the clone covers them.
 */
function requestsOf(vmid: number, log: RequestLogEntry[]): RequestLogEntry[] {
  const own = new RegExp(`/qemu/${vmid}(/|$)|%3A${vmid}%3A`);
  return log.filter(
    (r) => own.test(r.path) || (r.method === "POST" && r.path.endsWith("/clone") && Number(r.params.newid) === vmid),
  );
}

export function printPhases(lifecycles: LifecycleTimes[], log: RequestLogEntry[]): void {
  const gaps = new Map<string, number[]>();
  const add = (name: string, ms: number) => gaps.set(name, [...(gaps.get(name) ?? []), ms]);
  for (const l of lifecycles) {
    const requests = requestsOf(l.vmid, log);
    const beforeReady = requests.filter((r) => r.time <= l.ready);
    const afterReady = requests.filter((r) => r.time > l.ready);
    let previous: { time: number; step: string } = { time: l.created, step: "CreateSandbox sent" };
    for (const r of beforeReady) {
      const step = stepOf(r);
      add(`${previous.step} → ${step}`, r.time - previous.time);
      previous = { time: r.time, step };
    }
    add(`${previous.step} → READY answered`, l.ready - previous.time);
    previous = { time: l.destroying, step: "DestroySandbox sent" };
    for (const r of afterReady) {
      const step = stepOf(r);
      add(`${previous.step} → ${step}`, r.time - previous.time);
      previous = { time: r.time, step };
    }
    add(`${previous.step} → DestroySandbox answered`, l.destroyed - previous.time);
  }
  const rows = [...gaps].map(([name, ms]) => {
    ms.sort((a, b) => a - b);
    return {
      name,
      count: ms.length,
      p50: percentile(ms, 50),
      p90: percentile(ms, 90),
      total: ms.reduce((a, b) => a + b, 0),
    };
  });
  rows.sort((a, b) => b.total - a.total);
  process.stdout.write("\nwhere the wall time goes (gaps before each Proxmox request; ms)\n");
  process.stdout.write(
    `  ${"gap".padEnd(60)} ${"count".padStart(6)} ${"p50".padStart(6)} ${"p90".padStart(6)} ${"ms/lifecycle".padStart(13)}\n`,
  );
  for (const r of rows.slice(0, 25)) {
    process.stdout.write(
      `  ${r.name.padEnd(60)} ${String(r.count).padStart(6)} ${r.p50.toFixed(1).padStart(6)} ${r.p90.toFixed(1).padStart(6)} ${(r.total / lifecycles.length).toFixed(1).padStart(13)}\n`,
    );
  }
}
