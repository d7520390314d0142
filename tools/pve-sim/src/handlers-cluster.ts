import { paramError } from "./pve-error.js";
import { vmidTaken } from "./pve-messages.js";
import type { HandlerArgs, SimContext } from "./sim-context.js";
import { assertNode, isTemplate } from "./vm-access.js";

/** Cluster- and node-level reads (reference/proxmox.md §1.5). */
function release(sim: SimContext): string {
  return sim.options.pveVersion.includes(".") ? sim.options.pveVersion : `${sim.options.pveVersion}.0`;
}

export function getVersion({ sim }: HandlerArgs): unknown {
  return { version: `${release(sim)}.2`, release: release(sim), repoid: "3c9ad4ae9e12e5a7" };
}

export function listNodes({ sim }: HandlerArgs): unknown {
  return [
    {
      node: sim.state.node,
      status: "online",
      id: `node/${sim.state.node}`,
      type: "node",
      level: "",
      ssl_fingerprint: sim.fingerprint,
      maxcpu: 16,
      cpu: 0.03,
      maxmem: 68_719_476_736,
      mem: 8_589_934_592,
      maxdisk: 100_000_000_000,
      disk: 12_000_000_000,
      uptime: Math.floor((sim.clock.now() % 86_400_000) / 1000) + 3600,
    },
  ];
}

export function getNodeStatus({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  return {
    uptime: 3600,
    cpu: 0.03,
    loadavg: ["0.10", "0.08", "0.05"],
    memory: { total: 68_719_476_736, used: 8_589_934_592, free: 60_129_542_144 },
    cpuinfo: { cpus: 16, sockets: 1, cores: 16, model: "pve-sim virtual CPU" },
    pveversion: `pve-manager/${release(sim)}.2/3c9ad4ae9e12e5a7`,
    kversion: "Linux 6.8.12-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-1",
  };
}

/**
 * Lowest free VMID counting VMs that exist now (placeholders included); a reservation-free
 * answer, as a string (§1.2, §1.5, rule 6). `nextIdStale` hands out the previous answer again.
 */
export function getNextId({ sim, call, params }: HandlerArgs): unknown {
  const { lower, upper } = sim.options.nextIdRange;
  if (params.vmid !== undefined) {
    const vmid = Number(params.vmid);
    if (sim.state.vms.has(vmid)) throw paramError({ vmid: vmidTaken(vmid) });
    return String(vmid);
  }
  const stale = sim.faults.take("nextid", { method: call.method, path: call.path });
  if (stale.length > 0 && sim.state.lastNextId !== undefined) return String(sim.state.lastNextId);
  for (let id = lower; id <= upper; id++) {
    if (!sim.state.vms.has(id)) {
      sim.state.lastNextId = id;
      return String(id);
    }
  }
  throw paramError({ vmid: `unable to get any free VMID in range [${lower}, ${upper}]` });
}

/** Refreshes the RRD cache on its own cadence: name/status/template lag behind (§1.5). */
function refreshRrd(sim: SimContext): void {
  const { rrd } = sim.state;
  const lag = sim.ms("rrdLag");
  const now = sim.clock.now();
  if (now - rrd.refreshedAt < lag) return;
  rrd.refreshedAt = now;
  rrd.entries = new Map(
    [...sim.state.vms.values()].map((vm) => [
      vm.vmid,
      {
        name: vm.config.get("name"),
        status: vm.runState === "stopped" ? "stopped" : "running",
        template: isTemplate(vm),
      },
    ]),
  );
}

export function getClusterResources({ sim, params }: HandlerArgs): unknown {
  refreshRrd(sim);
  const type = params.type as string | undefined;
  const out: Array<Record<string, unknown>> = [];
  if (!type || type === "vm") {
    for (const vm of [...sim.state.vms.values()].sort((a, b) => a.vmid - b.vmid)) {
      const cached = sim.state.rrd.entries.get(vm.vmid);
      const entry: Record<string, unknown> = {
        id: `qemu/${vm.vmid}`,
        type: "qemu",
        vmid: vm.vmid,
        node: sim.state.node,
        status: cached?.status ?? "unknown",
        template: cached?.template ? 1 : 0,
        maxmem: Number.parseInt(vm.config.get("memory") ?? "2048", 10) * 1024 * 1024,
        maxcpu: Number(vm.config.get("cores") ?? 1),
        maxdisk: 34_359_738_368,
        mem: 0,
        cpu: 0,
        disk: 0,
        uptime: 0,
        netin: 0,
        netout: 0,
        diskread: 0,
        diskwrite: 0,
      };
      if (cached?.name !== undefined) entry.name = cached.name;
      const lock = vm.config.get("lock");
      if (lock) entry.lock = lock;
      const tags = vm.config.get("tags");
      if (tags) entry.tags = tags;
      out.push(entry);
    }
  }
  if (!type || type === "storage") {
    for (const storage of sim.state.storages.values()) {
      out.push({
        id: `storage/${sim.state.node}/${storage.id}`,
        type: "storage",
        storage: storage.id,
        node: sim.state.node,
        status: "available",
        plugintype: storage.type,
        content: [...storage.content].sort().join(","),
        shared: storage.shared ? 1 : 0,
        maxdisk: storage.totalBytes,
        disk: 0,
      });
    }
  }
  if (!type || type === "node") {
    out.push({ id: `node/${sim.state.node}`, type: "node", node: sim.state.node, status: "online", level: "" });
  }
  return out;
}
