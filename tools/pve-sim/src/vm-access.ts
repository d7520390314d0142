import { pveDie } from "./pve-error.js";
import { configMissing, noSuchNode, vmLocked } from "./pve-messages.js";
import type { ApiCall, SimContext } from "./sim-context.js";
import type { AgentBehaviour } from "./sim-options.js";
import { removeVmFirewallFile, type SimVm, vmFlock } from "./sim-state.js";
import type { SimTask, TaskFaults, TaskWorker } from "./task-runner.js";
import { DISK_KEY, type VmConfig, volidOfDisk } from "./vm-config.js";

/** Lookups and checks every qemu handler starts with (reference/proxmox.md §1.5, §1.6). */
export function assertNode(sim: SimContext, node: unknown): void {
  if (node !== sim.state.node) throw pveDie(noSuchNode(String(node)));
}

export function getVm(sim: SimContext, vmid: number): SimVm {
  const vm = sim.state.vms.get(vmid);
  if (!vm) throw pveDie(configMissing(sim.state.node, vmid));
  return vm;
}

/** The persistent `lock:` property fails an operation at once (§1.6). */
export function assertUnlocked(vm: SimVm): void {
  const lock = vm.config.get("lock");
  if (lock) throw pveDie(vmLocked(lock));
}

export function isTemplate(vm: SimVm): boolean {
  return vm.config.get("template") === "1";
}

/** A guest IPv4 from 198.51.100.0/24 (TEST-NET-2, documentation range): never reachable. */
export function guestIpv4(vmid: number): string {
  return `198.51.100.${2 + (vmid % 250)}`;
}

export function createVm(
  sim: SimContext,
  vmid: number,
  config: VmConfig,
  agent: AgentBehaviour,
  owner: SimVm["owner"],
): SimVm {
  const vm: SimVm = {
    vmid,
    config,
    pending: new Map(),
    pendingDelete: new Set(),
    runState: "stopped",
    bootedAt: undefined,
    pid: undefined,
    flock: vmFlock(sim.state, vmid),
    snapshots: new Map(),
    parent: undefined,
    agent: { ...agent },
    ipv4: guestIpv4(vmid),
    owner,
    createdAt: sim.clock.now(),
  };
  sim.state.vms.set(vmid, vm);
  return vm;
}

/** Removes a VM and its owned volumes; the VMID is free again at once (§3 VMID races). */
export function removeVm(sim: SimContext, vmid: number): void {
  const vm = sim.state.vms.get(vmid);
  sim.state.vms.delete(vmid);
  if (!vm) return;
  removeVmFirewallFile(sim.state, vmid);
  for (const storage of sim.state.storages.values()) {
    for (const [volid, volume] of storage.volumes) {
      if (volume.vmid === vmid) storage.volumes.delete(volid);
    }
  }
}

/** The disk volumes in a config, by drive key. */
export function diskVolumes(config: VmConfig): Array<{ drive: string; volid: string; value: string }> {
  const out: Array<{ drive: string; volid: string; value: string }> = [];
  for (const [key, value] of config) {
    if (!DISK_KEY.test(key) || key.startsWith("unused")) continue;
    if (/media=cdrom/.test(value) && !/cloudinit/.test(value)) continue;
    const volid = volidOfDisk(value);
    if (volid) out.push({ drive: key, volid, value });
  }
  return out.sort((a, b) => a.drive.localeCompare(b.drive));
}

/** Starts a task, applying any task-phase faults that match it (§5.5). */
export function startTask(
  sim: SimContext,
  call: ApiCall,
  type: string,
  id: string,
  vmids: number[],
  worker: TaskWorker,
): SimTask {
  const faults: TaskFaults = {};
  for (const effect of sim.faults.take("task", { method: call.method, path: call.path, vmids, taskType: type })) {
    if (effect.type === "taskFail") faults.failWith = effect.message;
    else if (effect.type === "taskWarn") faults.warnings = effect.count ?? 1;
    else if (effect.type === "taskStuck") faults.stuck = true;
    else if (effect.type === "taskSlow") faults.slowFactor = effect.factor;
    else if (effect.type === "leakLock") faults.leakLock = effect.lock ?? true;
  }
  return sim.tasks.start(type, id, call.authId, worker, faults);
}
