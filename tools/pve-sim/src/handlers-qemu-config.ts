import { pveDie } from "./pve-error.js";
import { baseVolumeInUse, destroyProtected, destroyRunning, digestMismatch, snapshotMissing } from "./pve-messages.js";
import type { HandlerArgs, SimContext } from "./sim-context.js";
import { type SimVm, vmFlock } from "./sim-state.js";
import { assertNode, assertUnlocked, getVm, isTemplate, removeVm, startTask } from "./vm-access.js";
import { configDigest, configToJson, normaliseTags, type VmConfig, withMac } from "./vm-config.js";

/** VM config read/update and destroy (reference/proxmox.md §1.5, §1.6). */
const CONTROL_KEYS = new Set(["node", "vmid", "delete", "digest", "revert", "skiplock", "background_delay"]);

/** Keys a running VM takes at once; everything else waits in `pending` (default hotplug set). */
const HOTPLUG_KEY =
  /^(net\d+|scsi\d+|virtio\d+|sata\d+|unused\d+|name|description|tags|onboot|protection|startup|lock)$/;

/** The config with pending values applied (what GET config shows unless `current=1`). */
export function effectiveConfig(vm: SimVm): VmConfig {
  const merged = new Map(vm.config);
  for (const [key, value] of vm.pending) merged.set(key, value);
  for (const key of vm.pendingDelete) merged.delete(key);
  return merged;
}

export function getConfig({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vm = getVm(sim, Number(params.vmid));
  if (params.snapshot !== undefined) {
    const snap = vm.snapshots.get(String(params.snapshot));
    if (!snap) throw pveDie(snapshotMissing(String(params.snapshot)));
    return configToJson(snap.config);
  }
  return configToJson(params.current ? vm.config : effectiveConfig(vm));
}

/** The checks PVE makes before it takes the flock (§1.5 PUT config: lock, then digest). */
function earlyChecks(vm: SimVm, params: HandlerArgs["params"]): void {
  if (!params.skiplock && params.lock === undefined) assertUnlocked(vm);
  if (params.digest !== undefined && params.digest !== configDigest(vm.config)) throw pveDie(digestMismatch);
}

/** Applies an update; returns the changed keys (the CLI prints them). */
export function applyConfigUpdate(sim: SimContext, vm: SimVm, params: HandlerArgs["params"]): void {
  const running = vm.runState !== "stopped";
  const target = (key: string): "config" | "pending" => (running && !HOTPLUG_KEY.test(key) ? "pending" : "config");
  for (const [key, raw] of Object.entries(params)) {
    if (CONTROL_KEYS.has(key)) continue;
    let value = typeof raw === "boolean" ? (raw ? "1" : "0") : String(raw);
    if (key === "tags") value = normaliseTags(value);
    if (/^net\d+$/.test(key)) value = withMac(value, sim.random, false);
    if (target(key) === "pending") {
      vm.pending.set(key, value);
      vm.pendingDelete.delete(key);
    } else {
      vm.config.set(key, value);
    }
  }
  const deletions = typeof params.delete === "string" ? params.delete.split(/[,;\s]+/).filter(Boolean) : [];
  for (const key of deletions) {
    if (target(key) === "pending" && vm.config.has(key)) vm.pendingDelete.add(key);
    else vm.config.delete(key);
    vm.pending.delete(key);
  }
}

export async function putConfig({ sim, params }: HandlerArgs): Promise<unknown> {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  earlyChecks(getVm(sim, vmid), params);
  const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock);
  try {
    const vm = getVm(sim, vmid);
    earlyChecks(vm, params);
    applyConfigUpdate(sim, vm, params);
  } finally {
    release();
  }
  return null;
}

export async function postConfig({ sim, call, params }: HandlerArgs): Promise<unknown> {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  earlyChecks(getVm(sim, vmid), params);
  const task = startTask(sim, call, "qmconfig", String(vmid), [vmid], async (ctx) => {
    const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock, ctx.signal);
    try {
      const vm = getVm(sim, vmid);
      earlyChecks(vm, params);
      await ctx.sleep(sim.ms("config"));
      applyConfigUpdate(sim, vm, params);
    } finally {
      release();
    }
    return undefined;
  });
  if (params.background_delay !== undefined) {
    let cancel: () => void = () => {};
    const waited = new Promise<void>((resolve) => {
      cancel = sim.clock.setTimer(sim.scaled(Number(params.background_delay) * 1000), resolve);
    });
    await Promise.race([task.done, waited]);
    cancel();
    if (task.status === "stopped" && task.exitstatus === "OK") return null;
  }
  return task.upid;
}

export function deleteVm({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const vm = getVm(sim, vmid);
  if (vm.runState !== "stopped") throw pveDie(destroyRunning(vmid));
  if (vm.config.get("protection") === "1") throw pveDie(destroyProtected(vmid));
  return startTask(sim, call, "qmdestroy", String(vmid), [vmid], async (ctx) => {
    const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock, ctx.signal);
    try {
      const current = getVm(sim, vmid);
      if (!params.skiplock) assertUnlocked(current);
      if (current.runState !== "stopped") throw pveDie(destroyRunning(vmid));
      if (isTemplate(current)) {
        for (const storage of sim.state.storages.values()) {
          for (const volume of storage.volumes.values()) {
            const base = volume.base;
            if (base && storage.volumes.get(base)?.vmid === vmid) throw pveDie(baseVolumeInUse(base));
          }
        }
      }
      // `lock: destroyed` while disks go away; the config is removed last (§1.5 destroy).
      current.config.set("lock", "destroyed");
      for (const storage of sim.state.storages.values()) {
        for (const volume of storage.volumes.values()) {
          if (volume.vmid === vmid) ctx.log(`Removing image: 100% complete...done. (${volume.volid})`);
        }
      }
      await ctx.sleep(sim.ms("destroy"));
      if (params.purge) ctx.log(`purging VM ${vmid} from related configurations..`);
      await sim.guests.stop(vmid);
      removeVm(sim, vmid);
    } finally {
      release();
    }
    return undefined;
  }).upid;
}
