import { paramError, pveDie } from "./pve-error.js";
import {
  noSuchTask,
  storageMissing,
  upidUnparsable,
  volumeExists,
  volumeMissing,
  volumeNameIllegal,
} from "./pve-messages.js";
import type { HandlerArgs, SimContext } from "./sim-context.js";
import type { SimStorage } from "./sim-state.js";
import type { SimTask } from "./task-runner.js";
import { parseUpid } from "./upid.js";
import { assertNode, startTask } from "./vm-access.js";

/** Storage content (reference/proxmox.md §2 pvesm alloc) and task endpoints (§1.4). */
function getStorage(sim: SimContext, id: unknown): SimStorage {
  const storage = sim.state.storages.get(String(id));
  if (!storage) throw pveDie(storageMissing(String(id)));
  return storage;
}

export function listStorages({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  return [...sim.state.storages.values()].map((s) => {
    const used = [...s.volumes.values()].reduce((sum, v) => sum + v.sizeBytes, 0);
    return {
      storage: s.id,
      type: s.type,
      content: [...s.content].sort().join(","),
      active: 1,
      enabled: 1,
      shared: s.shared ? 1 : 0,
      total: s.totalBytes,
      used,
      avail: s.totalBytes - used,
      used_fraction: used / s.totalBytes,
    };
  });
}

export function listStorageContent({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const storage = getStorage(sim, params.storage);
  return [...storage.volumes.values()].map((v) => ({
    volid: v.volid,
    vmid: v.vmid,
    size: v.sizeBytes,
    format: storage.type === "dir" || storage.type === "nfs" ? "qcow2" : "raw",
    content: "images",
  }));
}

function parseSize(text: string): number | undefined {
  const m = /^(\d+)([KMGT])?$/.exec(text);
  if (!m) return undefined;
  const unit = { K: 1, M: 1024, G: 1024 ** 2, T: 1024 ** 3 }[(m[2] ?? "K") as "K" | "M" | "G" | "T"];
  return Number(m[1]) * unit * 1024;
}

/** POST …/storage/{s}/content: allocates a volume and returns its volid (pvesm alloc). */
export function postStorageContent({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const storage = getStorage(sim, params.storage);
  const vmid = Number(params.vmid);
  const filename = String(params.filename);
  const size = parseSize(String(params.size));
  if (size === undefined) throw paramError({ size: `unable to parse size '${params.size}'` });
  if (!filename.startsWith(`vm-${vmid}-`) && !filename.startsWith(`base-${vmid}-`)) {
    throw pveDie(volumeNameIllegal(filename, vmid));
  }
  const volid = `${storage.id}:${filename}`;
  if (storage.volumes.has(volid)) throw pveDie(volumeExists(volid));
  storage.volumes.set(volid, { volid, vmid, sizeBytes: size });
  return volid;
}

export function deleteStorageContent({ sim, call, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const storage = getStorage(sim, params.storage);
  const volume = String(params.volume);
  const volid = volume.includes(":") ? volume : `${storage.id}:${volume}`;
  const entry = storage.volumes.get(volid);
  if (!entry) throw pveDie(volumeMissing(volid));
  return startTask(sim, call, "imgdel", volid, [entry.vmid], async (ctx) => {
    await ctx.sleep(sim.ms("config"));
    storage.volumes.delete(volid);
    ctx.log(`Removed volume '${volid}'`);
    return undefined;
  }).upid;
}

/** The task for a UPID on this node, or PVE's 400 (§1.4: also on the wrong node). */
export function findTask(sim: SimContext, node: unknown, upid: unknown): SimTask {
  const text = String(upid);
  const parsed = parseUpid(text);
  if (!parsed) throw paramError({ upid: upidUnparsable });
  const task = sim.state.tasks.get(text);
  if (!task || parsed.node !== node || node !== sim.state.node) throw paramError({ upid: noSuchTask });
  return task;
}

export function taskStatusOf(task: SimTask): Record<string, unknown> {
  const [user, tokenid] = task.user.split("!");
  const out: Record<string, unknown> = {
    status: task.status,
    type: task.type,
    id: task.id,
    user,
    node: task.node,
    pid: task.pid,
    pstart: task.pstart,
    starttime: task.starttime,
    upid: task.upid,
  };
  if (tokenid) out.tokenid = tokenid;
  if (task.status === "stopped") out.exitstatus = task.exitstatus;
  return out;
}

export function getTaskStatus({ sim, params }: HandlerArgs): unknown {
  return taskStatusOf(findTask(sim, params.node, params.upid));
}

export function getTaskLog({ sim, params }: HandlerArgs): unknown {
  const task = findTask(sim, params.node, params.upid);
  const start = Number(params.start ?? 0);
  const limit = Number(params.limit ?? 50);
  return task.log.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
}

export function deleteTask({ sim, params }: HandlerArgs): unknown {
  sim.tasks.abort(findTask(sim, params.node, params.upid));
  return null;
}

/**
 * GET /nodes/{n}/tasks: newest first. `source` is `archive` (finished tasks, the default), `active`
 * (running ones) or `all`; `vmid` matches the task's `id` — for `qmclone` that is the *source*
 * VMID, not the new VM (§1.4) — and `typefilter` its type; `errors=1` keeps failed tasks only.
 */
export function listTasks({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const source = String(params.source ?? "archive");
  const start = Number(params.start ?? 0);
  const limit = Number(params.limit ?? 50);
  const tasks = [...sim.state.tasks.values()].reverse().filter((task) => {
    if (source === "archive" && task.status !== "stopped") return false;
    if (source === "active" && task.status !== "running") return false;
    if (params.vmid !== undefined && task.id !== String(params.vmid)) return false;
    if (params.typefilter !== undefined && task.type !== params.typefilter) return false;
    if (params.errors === true && (task.status !== "stopped" || /^(OK|WARNINGS: \d+)$/.test(task.exitstatus ?? ""))) {
      return false;
    }
    return true;
  });
  return tasks.slice(start, start + limit).map((task) => {
    const out = taskStatusOf(task);
    if (task.endtime !== undefined) out.endtime = task.endtime;
    if (task.status === "stopped") out.status = task.exitstatus;
    return out;
  });
}
