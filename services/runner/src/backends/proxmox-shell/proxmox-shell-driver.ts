import { hostname } from "node:os";
import type { CallContext } from "../../backend.js";
import { BackendError } from "../../backend-errors.js";
import type { AgentInterface } from "../proxmox-common/guest-ip-selector.js";
import type {
  PveConfig,
  PveDriver,
  PveFirewallOptions,
  PveFirewallRule,
  PveTaskEntry,
  PveVmListEntry,
  PveVmStatus,
} from "../proxmox-common/pve-driver.js";
import { parsePveshJson, parsePvesmAlloc } from "./qm-output-parsers.js";
import type { CommandRunner } from "./qm-runner.js";

/**
 * PveDriver over the node's own CLI (reference/proxmox.md §2, §0 rule 10): `qm` for every mutation
 * (it runs the task in the foreground and its exit status reflects the task — `pvesh create` would
 * exit 0 on a failed task), `pvesh get … --output-format json` for reads, `pvesm` for volumes.
 */
export function createProxmoxShellDriver(runner: CommandRunner, configuredNode: string | undefined): PveDriver {
  let nodeName = configuredNode;

  const pveshGet = async (ctx: CallContext, path: string, options: string[] = []): Promise<unknown> =>
    parsePveshJson(
      await runner.run(ctx, "pvesh", ["get", path, ...options, "--output-format", "json"]),
      `pvesh get ${path}`,
    );

  /** `qm` only sees VMs of the node it runs on: default to this host's name, checked against /nodes. */
  const node = async (ctx: CallContext): Promise<string> => {
    if (nodeName) return nodeName;
    const nodes = ((await pveshGet(ctx, "/nodes")) as Array<{ node: string; status?: string }>) ?? [];
    const local = hostname().split(".")[0];
    const match = nodes.find((n) => n.node === local) ?? (nodes.length === 1 ? nodes[0] : undefined);
    if (!match) {
      throw new BackendError(
        "unavailable",
        `cannot tell which Proxmox node this is: host name '${local}' is not in ${nodes.map((n) => n.node).join(", ")}`,
        {
          hint: "set proxmox_node to this node's name (the shell backend must run on the node it manages)",
        },
      );
    }
    nodeName = match.node;
    return match.node;
  };
  const vmPath = async (ctx: CallContext, vmid: number, rest = "") => `/nodes/${await node(ctx)}/qemu/${vmid}${rest}`;
  const qmTask = async (ctx: CallContext, args: string[], vmid?: number) => {
    await runner.run(ctx, "qm", args, { task: true, ...(vmid !== undefined ? { vmid } : {}) });
  };

  return {
    kind: "proxmox-shell",
    node,
    async version(ctx) {
      const v = (await pveshGet(ctx, "/version")) as { version?: string };
      return `pve-manager/${v?.version ?? "unknown"}`;
    },
    async nodeStatus(ctx) {
      const s = (await pveshGet(ctx, `/nodes/${await node(ctx)}/status`)) as {
        cpuinfo?: { cpus?: number };
        memory?: { total?: number };
      };
      return { cpus: s?.cpuinfo?.cpus ?? 0, memoryBytes: s?.memory?.total ?? 0 };
    },
    async getConfig(ctx, vmid) {
      return (await pveshGet(ctx, await vmPath(ctx, vmid, "/config"))) as PveConfig;
    },
    async getStatus(ctx, vmid) {
      return (await pveshGet(ctx, await vmPath(ctx, vmid, "/status/current"))) as PveVmStatus;
    },
    async listVms(ctx) {
      return ((await pveshGet(ctx, `/nodes/${await node(ctx)}/qemu`)) as PveVmListEntry[]) ?? [];
    },
    async clone(ctx, r) {
      await qmTask(
        ctx,
        [
          "clone",
          String(r.templateVmid),
          String(r.newVmid),
          "--full",
          r.full ? "1" : "0",
          "--name",
          r.name,
          "--description",
          r.description,
        ],
        r.newVmid,
      );
    },
    async setConfig(ctx, vmid, values, remove) {
      const args = ["set", String(vmid)];
      for (const [key, value] of Object.entries(values)) args.push(`--${key}`, value);
      if (remove && remove.length > 0) args.push("--delete", remove.join(","));
      if (args.length === 2) return;
      await qmTask(ctx, args, vmid);
    },
    async resize(ctx, vmid, disk, size) {
      await qmTask(ctx, ["resize", String(vmid), disk, size], vmid);
    },
    async start(ctx, vmid) {
      await qmTask(ctx, ["start", String(vmid)], vmid);
    },
    async stop(ctx, vmid) {
      await qmTask(ctx, ["stop", String(vmid)], vmid);
    },
    async destroy(ctx, vmid) {
      await qmTask(ctx, ["destroy", String(vmid), "--purge", "1", "--destroy-unreferenced-disks", "1"], vmid);
    },
    async guestInterfaces(ctx, vmid) {
      const data = (await pveshGet(ctx, await vmPath(ctx, vmid, "/agent/network-get-interfaces"))) as {
        result?: AgentInterface[];
      };
      return data?.result ?? [];
    },
    async snapshotCreate(ctx, vmid, name) {
      await qmTask(ctx, ["snapshot", String(vmid), name], vmid);
    },
    async snapshotRollback(ctx, vmid, name) {
      await qmTask(ctx, ["rollback", String(vmid), name], vmid);
    },
    async snapshotDelete(ctx, vmid, name) {
      await qmTask(ctx, ["delsnapshot", String(vmid), name], vmid);
    },
    async activeTasks(ctx) {
      return ((await pveshGet(ctx, `/nodes/${await node(ctx)}/tasks`, ["--source", "active"])) as PveTaskEntry[]) ?? [];
    },
    async firewallGroups(ctx) {
      const groups = (await pveshGet(ctx, "/cluster/firewall/groups")) as Array<{ group: string }> | null;
      return (groups ?? []).map((g) => g.group);
    },
    async firewallRules(ctx, vmid) {
      return ((await pveshGet(ctx, await vmPath(ctx, vmid, "/firewall/rules"))) as PveFirewallRule[]) ?? [];
    },
    async addFirewallGroupRule(ctx, vmid, group) {
      // `pvesh create` is safe here: firewall rules are a synchronous call, not a task (§2, rule 10).
      const path = await vmPath(ctx, vmid, "/firewall/rules");
      await runner.run(ctx, "pvesh", ["create", path, "--type", "group", "--action", group, "--enable", "1"], { vmid });
    },
    async firewallOptions(ctx, vmid) {
      return ((await pveshGet(ctx, await vmPath(ctx, vmid, "/firewall/options"))) as PveFirewallOptions | null) ?? {};
    },
    async enableFirewall(ctx, vmid) {
      // `pvesh set` is safe for the same reason: firewall options are a synchronous call, not a task.
      // Only `enable` is sent: policies set on the template stay as they are.
      const path = await vmPath(ctx, vmid, "/firewall/options");
      await runner.run(ctx, "pvesh", ["set", path, "--enable", "1"], { vmid });
    },
    async unlock(ctx, vmid) {
      // §1.6: the root-only escape hatch for a leaked `lock:`.
      await runner.run(ctx, "qm", ["unlock", String(vmid)], { vmid });
    },
    async volumeAlloc(ctx, storage, ownerVmid, fileName, size) {
      return parsePvesmAlloc(await runner.run(ctx, "pvesm", ["alloc", storage, String(ownerVmid), fileName, size]));
    },
    async volumeFree(ctx, volid) {
      await runner.run(ctx, "pvesm", ["free", volid], { task: true });
    },
    async close() {},
  };
}
