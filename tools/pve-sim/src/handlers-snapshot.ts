import { bootVm, haltVm } from "./handlers-qemu-power.js";
import { pveDie } from "./pve-error.js";
import { snapshotMissing, snapshotNameUsed, snapshotOfTemplate, snapshotUnsupported } from "./pve-messages.js";
import type { HandlerArgs, SimContext } from "./sim-context.js";
import { type SimVm, vmFlock } from "./sim-state.js";
import type { TaskContext, TaskOutcome } from "./task-runner.js";
import { assertNode, assertUnlocked, diskVolumes, getVm, isTemplate, startTask } from "./vm-access.js";
import { configDigest } from "./vm-config.js";

/** Snapshots (reference/proxmox.md §1.5): list with `current`, create/rollback/delete workers. */
export function listSnapshots({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vm = getVm(sim, Number(params.vmid));
  const out: Array<Record<string, unknown>> = [...vm.snapshots.values()].map((s) => {
    const entry: Record<string, unknown> = {
      name: s.name,
      snaptime: s.snaptime,
      description: s.description,
      vmstate: s.vmstate ? 1 : 0,
    };
    if (s.parent) entry.parent = s.parent;
    return entry;
  });
  const current: Record<string, unknown> = {
    name: "current",
    description: "You are here!",
    running: vm.runState === "stopped" ? 0 : 1,
    digest: configDigest(vm.config),
  };
  if (vm.parent) current.parent = vm.parent;
  out.push(current);
  return out;
}

/** Runs `body` under the VM flock with the `lock:` property `reason` set (§1.6). */
async function withVmLock(
  sim: SimContext,
  ctx: TaskContext,
  vmid: number,
  reason: string,
  body: (vm: SimVm) => Promise<void>,
): Promise<TaskOutcome> {
  const release = await vmFlock(sim.state, vmid).acquire("exclusive", sim.ms("flockWait"), sim.clock, ctx.signal);
  try {
    const vm = getVm(sim, vmid);
    assertUnlocked(vm);
    await body(vm);
    return { heldLock: { vmid, reason } };
  } finally {
    release();
  }
}

export function postSnapshot({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const snapname = String(params.snapname);
  getVm(sim, vmid);
  return startTask(sim, call, "qmsnapshot", String(vmid), [vmid], (ctx) =>
    withVmLock(sim, ctx, vmid, "snapshot", async (vm) => {
      if (isTemplate(vm)) throw pveDie(snapshotOfTemplate);
      if (vm.snapshots.has(snapname)) throw pveDie(snapshotNameUsed(snapname));
      for (const { volid, value } of diskVolumes(vm.config)) {
        if (/cloudinit/.test(value)) continue;
        const storage = sim.state.storages.get(volid.split(":")[0]!);
        if (!storage?.supportsSnapshot) throw pveDie(snapshotUnsupported);
      }
      vm.config.set("lock", "snapshot");
      ctx.log(`snapshotting 'drive-scsi0' (${diskVolumes(vm.config)[0]?.volid ?? "none"})`);
      try {
        await ctx.sleep(sim.ms("snapshot"));
      } finally {
        vm.config.delete("lock");
      }
      const config = new Map(vm.config);
      vm.snapshots.set(snapname, {
        name: snapname,
        snaptime: Math.floor(sim.clock.now() / 1000),
        description: (params.description as string | undefined) ?? "",
        vmstate: params.vmstate === true,
        parent: vm.parent,
        config,
        runState: vm.runState,
      });
      vm.parent = snapname;
    }),
  ).upid;
}

export function postRollback({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const snapname = String(params.snapname);
  return startTask(sim, call, "qmrollback", String(vmid), [vmid], (ctx) =>
    withVmLock(sim, ctx, vmid, "rollback", async (vm) => {
      const snap = vm.snapshots.get(snapname);
      if (!snap) throw pveDie(snapshotMissing(snapname));
      vm.config.set("lock", "rollback");
      try {
        // A running VM is force-stopped first (§1.5 rollback).
        if (vm.runState !== "stopped") await haltVm(sim, vm);
        await ctx.sleep(sim.ms("rollback"));
        vm.config = new Map(snap.config);
        vm.config.set("lock", "rollback");
        vm.pending.clear();
        vm.pendingDelete.clear();
        vm.parent = snapname;
      } finally {
        vm.config.delete("lock");
      }
      if (params.start === true || (snap.vmstate && snap.runState !== "stopped")) await bootVm(sim, ctx, vmid);
    }),
  ).upid;
}

export function deleteSnapshot({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const snapname = String(params.snapname);
  return startTask(sim, call, "qmdelsnapshot", String(vmid), [vmid], (ctx) =>
    withVmLock(sim, ctx, vmid, "snapshot-delete", async (vm) => {
      const snap = vm.snapshots.get(snapname);
      if (!snap) throw pveDie(snapshotMissing(snapname));
      vm.config.set("lock", "snapshot-delete");
      try {
        await ctx.sleep(sim.ms("snapshot"));
      } finally {
        vm.config.delete("lock");
      }
      for (const other of vm.snapshots.values()) {
        if (other.parent === snapname) other.parent = snap.parent;
      }
      if (vm.parent === snapname) vm.parent = snap.parent;
      vm.snapshots.delete(snapname);
    }),
  ).upid;
}
