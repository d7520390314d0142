import { paramError, pveDie } from "./pve-error.js";
import { digestMismatch, paramSizePattern, resizeCdrom, resizeDiskMissing, resizeShrink } from "./pve-messages.js";
import type { HandlerArgs, SimContext } from "./sim-context.js";
import { type SimVm, vmFlock } from "./sim-state.js";
import { assertNode, assertUnlocked, getVm, startTask } from "./vm-access.js";
import { configDigest, isCloudInitDisk, volidOfDisk } from "./vm-config.js";

/**
 * PUT /nodes/{n}/qemu/{vmid}/resize (`qm resize <vmid> <disk> <size>`): grows one disk, `size`
 * absolute (`32G`) or relative (`+10G`), never shrinks. Proxmox runs it as a `resize` task
 * (reference/proxmox.md §1.4 task types) that rewrites the drive's `size=` under the VM flock.
 * The simulator also makes the checks once before it forks the worker, so a missing VM, a `lock:`,
 * an unknown disk or a shrink answers at once (HTTP 500) — which of them PVE makes before the fork
 * is [inferred]; clients must handle both forms (they do: a failed task is the same text).
 */
const SIZE_PATTERN = /^(\+)?(\d+(?:\.\d+)?)([KMGT])?$/;
const UNIT: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes of a drive's `size=` option (PVE writes K/M/G/T suffixes; none = bytes). */
export function driveSizeBytes(value: string): number {
  const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT])?(?:,|$)/.exec(value);
  return m ? Math.round(Number(m[1]) * UNIT[m[2] ?? ""]!) : 0;
}

/** PVE's format_size: the largest unit that divides the size exactly. */
export function formatDriveSize(bytes: number): string {
  for (const unit of ["T", "G", "M", "K"] as const) {
    if (bytes % UNIT[unit]! === 0) return `${bytes / UNIT[unit]!}${unit}`;
  }
  return String(bytes);
}

function withSize(value: string, bytes: number): string {
  const parts = value.split(",").filter((part) => !part.startsWith("size="));
  parts.push(`size=${formatDriveSize(bytes)}`);
  return parts.join(",");
}

interface ResizePlan {
  disk: string;
  value: string;
  volid: string | undefined;
  newBytes: number;
  changed: boolean;
}

function planResize(vm: SimVm, params: HandlerArgs["params"]): ResizePlan {
  if (params.digest !== undefined && params.digest !== configDigest(vm.config)) throw pveDie(digestMismatch);
  if (!params.skiplock) assertUnlocked(vm);
  const disk = String(params.disk);
  const value = vm.config.get(disk);
  if (value === undefined) throw pveDie(resizeDiskMissing(disk));
  if (/media=cdrom/.test(value) && !isCloudInitDisk(value)) throw pveDie(resizeCdrom);
  const m = SIZE_PATTERN.exec(String(params.size))!;
  const current = driveSizeBytes(value);
  const amount = Math.round(Number(m[2]) * UNIT[m[3] ?? ""]!);
  const newBytes = m[1] ? current + amount : amount;
  if (newBytes < current) throw pveDie(resizeShrink);
  return { disk, value, volid: volidOfDisk(value), newBytes, changed: newBytes !== current };
}

function applyResize(sim: SimContext, vm: SimVm, plan: ResizePlan): void {
  vm.config.set(plan.disk, withSize(plan.value, plan.newBytes));
  if (!plan.volid) return;
  const storage = sim.state.storages.get(plan.volid.split(":")[0]!);
  const volume = storage?.volumes.get(plan.volid);
  if (volume) volume.sizeBytes = plan.newBytes;
}

export function putResize({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  if (!SIZE_PATTERN.test(String(params.size))) throw paramError({ size: paramSizePattern });
  const vmid = Number(params.vmid);
  planResize(getVm(sim, vmid), params);
  return startTask(sim, call, "resize", String(vmid), [vmid], async (ctx) => {
    const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock, ctx.signal);
    try {
      const vm = getVm(sim, vmid);
      const plan = planResize(vm, params);
      if (!plan.changed) return undefined;
      await ctx.sleep(sim.ms("config"));
      applyResize(sim, vm, plan);
    } finally {
      release();
    }
    return undefined;
  }).upid;
}
