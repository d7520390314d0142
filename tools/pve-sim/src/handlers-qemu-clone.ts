import { PveError, pveDie } from "./pve-error.js";
import {
  cfsLockTimeout,
  cloneFailed,
  cloneLocalStorage,
  cloneTargetExists,
  linkedCloneUnsupported,
  noSuchNode,
  paramNotAllowedForLinked,
  snapshotMissing,
  storageMissing,
} from "./pve-messages.js";
import { randomUuid } from "./seeded-random.js";
import type { HandlerArgs, SimContext } from "./sim-context.js";
import { copyVmFirewallFile, type SimStorage, type SimVm, vmFlock } from "./sim-state.js";
import type { TaskContext } from "./task-runner.js";
import {
  assertNode,
  assertUnlocked,
  createVm,
  diskVolumes,
  getVm,
  isTemplate,
  removeVm,
  startTask,
} from "./vm-access.js";
import { isCloudInitDisk, withMac } from "./vm-config.js";

/**
 * POST /nodes/{n}/qemu/{vmid}/clone (reference/proxmox.md §1.5 clone, §1.6, §3 concurrent clones):
 * sync checks, then a `qmclone` worker (id = source) that holds a shared flock on the source, writes
 * a `lock: clone` placeholder under the target's flock, allocates each disk under the storage lock,
 * and writes the final config. Failure removes what it made and ends `clone failed: <why>`.
 */
interface DiskPlan {
  drive: string;
  source: string;
  options: string;
  storage: SimStorage;
  linked: boolean;
  cloudInit: boolean;
}

function storageOf(sim: SimContext, volid: string): SimStorage {
  const id = volid.split(":")[0]!;
  const storage = sim.state.storages.get(id);
  if (!storage) throw pveDie(storageMissing(id));
  return storage;
}

function planDisks(sim: SimContext, source: SimVm, full: boolean, targetStorage: string | undefined): DiskPlan[] {
  return diskVolumes(source.config).map(({ drive, volid, value }) => {
    const cloudInit = isCloudInitDisk(value);
    const from = storageOf(sim, volid);
    const linked = !full && !cloudInit;
    if (linked && (!from.supportsLinkedClone || !isTemplate(source))) {
      throw pveDie(linkedCloneUnsupported(volid, drive));
    }
    const to = !linked && targetStorage ? storageOf(sim, targetStorage) : from;
    return { drive, source: volid, options: value.slice(volid.length), storage: to, linked, cloudInit };
  });
}

function sizeOf(options: string): number {
  const m = /size=(\d+)([KMGT]?)/.exec(options);
  if (!m) return 4 * 1024 ** 2;
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as "" | "K" | "M" | "G" | "T"];
  return Number(m[1]) * unit;
}

function humanSize(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** Allocates one disk under the storage's flock (or cluster lock for shared storage). */
async function allocateDisk(sim: SimContext, ctx: TaskContext, plan: DiskPlan, newid: number, index: number) {
  let release: () => void;
  try {
    release = await plan.storage.lock.acquire("exclusive", sim.ms("storageLockWait"), sim.clock, ctx.signal);
  } catch (err) {
    if (plan.storage.shared && err instanceof PveError && err.message.startsWith("can't lock file")) {
      throw pveDie(cfsLockTimeout(plan.storage.id));
    }
    throw err;
  }
  try {
    await ctx.sleep(plan.storage.allocMs !== undefined ? sim.scaled(plan.storage.allocMs) : sim.ms("storageAlloc"));
    const name = plan.cloudInit ? `vm-${newid}-cloudinit` : `vm-${newid}-disk-${index}`;
    const volid = plan.linked
      ? `${plan.storage.id}:${plan.source.split(":")[1]}/${name}`
      : `${plan.storage.id}:${name}`;
    const volume = { volid, vmid: newid, sizeBytes: sizeOf(plan.options) };
    plan.storage.volumes.set(volid, plan.linked ? { ...volume, base: plan.source } : volume);
    return volid;
  } finally {
    release();
  }
}

export function postClone({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const newid = Number(params.newid);
  const source = getVm(sim, vmid);
  if (params.target !== undefined && params.target !== sim.state.node) {
    const local = diskVolumes(source.config).some(({ volid }) => !storageOf(sim, volid).shared);
    throw pveDie(local ? cloneLocalStorage(String(params.target)) : noSuchNode(String(params.target)));
  }
  const snapname = params.snapname as string | undefined;
  if (!snapname) assertUnlocked(source);
  if (snapname && !source.snapshots.has(snapname)) throw pveDie(snapshotMissing(snapname));
  if (sim.state.vms.has(newid)) throw pveDie(cloneTargetExists(newid));
  const full = params.full !== undefined ? params.full === true : !isTemplate(source);
  if (!full && params.storage !== undefined) throw pveDie(paramNotAllowedForLinked("storage"));
  if (!full && params.format !== undefined) throw pveDie(paramNotAllowedForLinked("format"));
  const targetStorage = params.storage as string | undefined;
  if (targetStorage !== undefined) storageOf(sim, `${targetStorage}:x`);
  planDisks(sim, source, full, targetStorage);

  return startTask(sim, call, "qmclone", String(vmid), [vmid, newid], async (ctx) => {
    const releaseSource = await vmFlock(sim.state, vmid).acquire(
      "shared",
      sim.ms("cloneFlockWait"),
      sim.clock,
      ctx.signal,
    );
    let placeholder: SimVm | undefined;
    try {
      // The target's flock covers only the placeholder write; `lock: clone` guards the copy (§1.6).
      const releaseTarget = await vmFlock(sim.state, newid).acquire(
        "exclusive",
        sim.ms("cloneFlockWait"),
        sim.clock,
        ctx.signal,
      );
      try {
        const src = getVm(sim, vmid);
        if (!snapname) assertUnlocked(src);
        if (sim.state.vms.has(newid)) throw pveDie(cloneTargetExists(newid));
        placeholder = createVm(sim, newid, new Map([["lock", "clone"]]), src.agent, "sim");
      } finally {
        releaseTarget();
      }
      const src = getVm(sim, vmid);
      const base = snapname ? src.snapshots.get(snapname)!.config : src.config;
      const plans = planDisks(sim, { ...src, config: base }, full, targetStorage);
      const newDisks = new Map<string, string>();
      let index = 0;
      for (const plan of plans) {
        ctx.log(`create ${plan.linked ? "linked" : "full"} clone of drive ${plan.drive} (${plan.source})`);
        const volid = await allocateDisk(sim, ctx, plan, newid, plan.cloudInit ? -1 : index++);
        newDisks.set(plan.drive, `${volid}${plan.options}`);
        if (!plan.linked && !plan.cloudInit) {
          const size = humanSize(sizeOf(plan.options));
          ctx.log(`transferred 0.0 B of ${size} (0.00%)`);
          await ctx.sleep(sim.ms("cloneFull"));
          ctx.log(`transferred ${size} of ${size} (100.00%)`);
        }
      }
      if (!full) await ctx.sleep(sim.ms("cloneLinked"));
      const releaseFinal = await vmFlock(sim.state, newid).acquire(
        "exclusive",
        sim.ms("flockWait"),
        sim.clock,
        ctx.signal,
      );
      try {
        const config = new Map<string, string>();
        for (const [key, value] of base) {
          if (key === "template" || key === "lock" || key === "parent" || key === "snaptime" || key === "vmstate")
            continue;
          if (/^net\d+$/.test(key)) config.set(key, withMac(value, sim.random, true));
          else if (key === "smbios1")
            config.set(key, value.replace(/uuid=[0-9a-f-]+/, `uuid=${randomUuid(sim.random)}`));
          else if (key === "vmgenid") config.set(key, randomUuid(sim.random));
          else config.set(key, newDisks.get(key) ?? value);
        }
        config.set("name", (params.name as string | undefined) ?? `Copy-of-VM-${base.get("name") ?? vmid}`);
        if (params.description !== undefined) config.set("description", String(params.description));
        placeholder.config = config;
        copyVmFirewallFile(sim.state, vmid, newid);
      } finally {
        releaseFinal();
      }
      return { heldLock: { vmid: newid, reason: "clone" } };
    } catch (err) {
      if (!placeholder) throw err;
      if (sim.state.vms.get(newid) === placeholder) removeVm(sim, newid);
      throw pveDie(cloneFailed(err instanceof Error ? err.message : String(err)));
    } finally {
      releaseSource();
    }
  }).upid;
}
