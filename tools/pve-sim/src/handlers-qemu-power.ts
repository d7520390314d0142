import { pveDie } from "./pve-error.js";
import {
  alreadyRunning,
  configMissing,
  configNotOnNode,
  shutdownPaused,
  shutdownTimeout,
  snippetMissing,
  startTemplate,
  vmLocked,
} from "./pve-messages.js";
import type { HandlerArgs, SimContext } from "./sim-context.js";
import { type SimVm, vmFlock } from "./sim-state.js";
import type { TaskContext } from "./task-runner.js";
import { assertNode, assertUnlocked, getVm, isTemplate, startTask } from "./vm-access.js";

/** VM lists, status and power workers (reference/proxmox.md §1.5 start/stop/shutdown/current). */
function vmSummary(vm: SimVm, sim: SimContext): Record<string, unknown> {
  const memoryMiB = Number.parseInt(vm.config.get("memory") ?? "2048", 10);
  const running = vm.runState !== "stopped";
  const out: Record<string, unknown> = {
    vmid: vm.vmid,
    status: running ? "running" : "stopped",
    cpus: Number(vm.config.get("cores") ?? 1) * Number(vm.config.get("sockets") ?? 1),
    maxmem: memoryMiB * 1024 * 1024,
    mem: running ? Math.floor(memoryMiB * 1024 * 1024 * 0.3) : 0,
    maxdisk: 34_359_738_368,
    disk: 0,
    cpu: 0,
    uptime: running && vm.bootedAt !== undefined ? Math.floor((sim.clock.now() - vm.bootedAt) / 1000) : 0,
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
  };
  const name = vm.config.get("name");
  if (name !== undefined) out.name = name;
  if (running && vm.pid !== undefined) out.pid = vm.pid;
  if (isTemplate(vm)) out.template = 1;
  const lock = vm.config.get("lock");
  if (lock) out.lock = lock;
  const tags = vm.config.get("tags");
  if (tags) out.tags = tags;
  return out;
}

export function listQemu({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  return [...sim.state.vms.values()].sort((a, b) => a.vmid - b.vmid).map((vm) => vmSummary(vm, sim));
}

export function getStatusCurrent({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vm = getVm(sim, Number(params.vmid));
  const out = vmSummary(vm, sim);
  out.qmpstatus = vm.runState;
  out.ha = { managed: 0 };
  if (/^(1|enabled=1)/.test(vm.config.get("agent") ?? "")) out.agent = 1;
  if (vm.runState !== "stopped") out["running-machine"] = "pc-i440fx-9.0+pve0";
  return out;
}

/** `user=<volid>` of a `cicustom` value. */
export function userSnippetOf(cicustom: string | undefined): string | undefined {
  if (!cicustom) return undefined;
  for (const part of cicustom.split(",")) {
    const [key, value] = part.split("=", 2);
    if (key === "user" && value) return value;
  }
  return undefined;
}

/** Pending changes take effect at start (§1.5 PUT config on a running VM). */
function applyPending(vm: SimVm): void {
  for (const [key, value] of vm.pending) vm.config.set(key, value);
  for (const key of vm.pendingDelete) vm.config.delete(key);
  vm.pending.clear();
  vm.pendingDelete.clear();
}

/** The start worker body, shared by rollback with `start=1`. */
export async function bootVm(sim: SimContext, ctx: TaskContext, vmid: number): Promise<void> {
  const vm = sim.state.vms.get(vmid);
  if (!vm) throw pveDie(configMissing(sim.state.node, vmid));
  if (isTemplate(vm)) throw pveDie(startTemplate);
  assertUnlocked(vm);
  if (vm.runState !== "stopped") throw pveDie(alreadyRunning(vmid));
  applyPending(vm);
  // The cloud-init ISO (and with it the snippet) is built at start (§3 "Cloud-init snippets").
  const snippet = userSnippetOf(vm.config.get("cicustom"));
  let userData: string | undefined;
  if (snippet) {
    userData = sim.snippets.read(snippet);
    if (userData === undefined) throw pveDie(snippetMissing(snippet));
  }
  if ([...vm.config.values()].some((v) => /cloudinit/.test(v))) ctx.log("generating cloud-init ISO");
  await ctx.sleep(sim.ms("start"));
  vm.runState = "running";
  vm.bootedAt = sim.clock.now();
  vm.pid = 10_000 + Math.floor(sim.random() * 900_000);
  sim.guests.launch(vmid, vm.config.get("name"), userData);
}

/** Stops a VM at once (stop, rollback, forced shutdown). */
export async function haltVm(sim: SimContext, vm: SimVm): Promise<void> {
  vm.runState = "stopped";
  vm.bootedAt = undefined;
  vm.pid = undefined;
  await sim.guests.stop(vm.vmid);
}

export function postStart({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  // No existence check before the fork (§1.5 start): everything happens in the worker.
  return startTask(sim, call, "qmstart", String(vmid), [vmid], async (ctx) => {
    const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock, ctx.signal);
    try {
      await bootVm(sim, ctx, vmid);
    } finally {
      release();
    }
    return undefined;
  }).upid;
}

export function postStop({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  return startTask(sim, call, "qmstop", String(vmid), [vmid], async (ctx) => {
    const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock, ctx.signal);
    try {
      const vm = sim.state.vms.get(vmid);
      if (!vm) throw pveDie(configNotOnNode(sim.state.node, vmid));
      if (vm.runState === "stopped") return undefined;
      // The lock property is only checked when the VM is running (§1.5 stop).
      const lock = vm.config.get("lock");
      if (lock && !params.skiplock) throw pveDie(vmLocked(lock));
      await ctx.sleep(sim.ms("stop"));
      await haltVm(sim, vm);
    } finally {
      release();
    }
    return undefined;
  }).upid;
}

export function postShutdown({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const timeoutMs =
    params.timeout !== undefined ? sim.scaled(Number(params.timeout) * 1000) : sim.ms("shutdownTimeout");
  return startTask(sim, call, "qmshutdown", String(vmid), [vmid], async (ctx) => {
    const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock, ctx.signal);
    try {
      const vm = sim.state.vms.get(vmid);
      if (!vm) throw pveDie(configNotOnNode(sim.state.node, vmid));
      if (vm.runState === "stopped") return undefined;
      if (vm.runState === "paused") throw pveDie(shutdownPaused);
      assertUnlocked(vm);
      if (vm.agent.respondsToShutdown === false) {
        await ctx.sleep(timeoutMs);
        if (!params.forceStop) throw pveDie(shutdownTimeout);
        ctx.log("VM still running - terminating now with SIGTERM");
      } else {
        await ctx.sleep(Math.min(sim.ms("shutdown"), timeoutMs));
      }
      await haltVm(sim, vm);
    } finally {
      release();
    }
    return undefined;
  }).upid;
}
