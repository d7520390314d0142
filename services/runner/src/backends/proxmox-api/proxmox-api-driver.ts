import type { CallContext } from "../../backend.js";
import { BackendError } from "../../backend-errors.js";
import type { BackoffPolicy } from "../proxmox-common/backoff.js";
import type { AgentInterface } from "../proxmox-common/guest-ip-selector.js";
import type {
  PveConfig,
  PveDriver,
  PveFirewallOptions,
  PveFirewallRule,
  PveNodeStatus,
  PveTaskEntry,
  PveVmListEntry,
  PveVmStatus,
} from "../proxmox-common/pve-driver.js";
import type { RuntimeDeps } from "../proxmox-common/runtime-deps.js";
import { isUpid } from "../proxmox-common/upid.js";
import type { PveClient, PveMethod, PveParams } from "./pve-client.js";
import { waitForTask } from "./task-waiter.js";

/**
 * PveDriver over the REST API (reference/proxmox.md §1.5). Every task-starting call waits for its
 * UPID; reads pass data through. Retries are not decided here (proxmox-common does, per operation).
 */
export function createProxmoxApiDriver(
  client: PveClient,
  deps: RuntimeDeps,
  taskPoll: BackoffPolicy,
  configuredNode: string | undefined,
): PveDriver {
  let nodeName = configuredNode;
  const enc = encodeURIComponent;

  const node = async (ctx: CallContext): Promise<string> => {
    if (nodeName) return nodeName;
    const nodes = (await client.request(ctx, "GET", "/nodes")) as Array<{ node: string; status?: string }>;
    const first = nodes
      .filter((n) => n.status !== "offline")
      .map((n) => n.node)
      .sort()[0];
    if (!first) {
      throw new BackendError("unavailable", "GET /nodes listed no online node", {
        hint: "set proxmox_node to the node's name",
      });
    }
    nodeName = first;
    return first;
  };
  const vmPath = async (ctx: CallContext, vmid: number, rest = "") =>
    `/nodes/${enc(await node(ctx))}/qemu/${vmid}${rest}`;

  /** Starts a task and waits for it; `null` answers (sync completion) are success too. */
  const task = async (
    ctx: CallContext,
    method: PveMethod,
    path: string,
    params: PveParams,
    what: string,
    vmid?: number,
  ) => {
    const data = await client.request(ctx, method, path, params);
    if (isUpid(data)) await waitForTask(client, deps, taskPoll, ctx, data, what, vmid);
  };

  return {
    kind: "proxmox-api",
    node,
    async version(ctx) {
      const v = (await client.request(ctx, "GET", "/version")) as { version?: string };
      return `pve-manager/${v?.version ?? "unknown"}`;
    },
    async nodeStatus(ctx): Promise<PveNodeStatus> {
      const s = (await client.request(ctx, "GET", `/nodes/${enc(await node(ctx))}/status`)) as {
        cpuinfo?: { cpus?: number };
        memory?: { total?: number };
      };
      return { cpus: s?.cpuinfo?.cpus ?? 0, memoryBytes: s?.memory?.total ?? 0 };
    },
    async getConfig(ctx, vmid) {
      return (await client.request(ctx, "GET", await vmPath(ctx, vmid, "/config"))) as PveConfig;
    },
    async getStatus(ctx, vmid) {
      return (await client.request(ctx, "GET", await vmPath(ctx, vmid, "/status/current"))) as PveVmStatus;
    },
    async listVms(ctx) {
      return (await client.request(ctx, "GET", `/nodes/${enc(await node(ctx))}/qemu`)) as PveVmListEntry[];
    },
    async clone(ctx, r) {
      await task(
        ctx,
        "POST",
        await vmPath(ctx, r.templateVmid, "/clone"),
        { newid: r.newVmid, name: r.name, full: r.full, description: r.description },
        `clone of VM ${r.templateVmid} to ${r.newVmid}`,
        r.newVmid,
      );
    },
    async setConfig(ctx, vmid, values, remove) {
      const params: PveParams = { ...values };
      if (remove && remove.length > 0) params.delete = remove.join(",");
      // PUT is synchronous (returns null) — §1.5; it may still hold the flock for up to 10 s.
      await task(ctx, "PUT", await vmPath(ctx, vmid, "/config"), params, `config of VM ${vmid}`, vmid);
    },
    async resize(ctx, vmid, disk, size) {
      await task(ctx, "PUT", await vmPath(ctx, vmid, "/resize"), { disk, size }, `resize of VM ${vmid} ${disk}`, vmid);
    },
    async start(ctx, vmid) {
      await task(ctx, "POST", await vmPath(ctx, vmid, "/status/start"), {}, `start of VM ${vmid}`, vmid);
    },
    async stop(ctx, vmid) {
      await task(ctx, "POST", await vmPath(ctx, vmid, "/status/stop"), {}, `stop of VM ${vmid}`, vmid);
    },
    async destroy(ctx, vmid) {
      await task(
        ctx,
        "DELETE",
        await vmPath(ctx, vmid),
        { purge: true, "destroy-unreferenced-disks": true },
        `destroy of VM ${vmid}`,
        vmid,
      );
    },
    async guestInterfaces(ctx, vmid) {
      const data = (await client.request(ctx, "GET", await vmPath(ctx, vmid, "/agent/network-get-interfaces"))) as {
        result?: AgentInterface[];
      };
      return data?.result ?? [];
    },
    async snapshotCreate(ctx, vmid, name) {
      // The original never waited for snapshot UPIDs (§2); we do.
      await task(
        ctx,
        "POST",
        await vmPath(ctx, vmid, "/snapshot"),
        { snapname: name },
        `snapshot '${name}' of VM ${vmid}`,
        vmid,
      );
    },
    async snapshotRollback(ctx, vmid, name) {
      await task(
        ctx,
        "POST",
        await vmPath(ctx, vmid, `/snapshot/${enc(name)}/rollback`),
        {},
        `rollback of VM ${vmid} to '${name}'`,
        vmid,
      );
    },
    async snapshotDelete(ctx, vmid, name) {
      await task(
        ctx,
        "DELETE",
        await vmPath(ctx, vmid, `/snapshot/${enc(name)}`),
        {},
        `deletion of snapshot '${name}' of VM ${vmid}`,
        vmid,
      );
    },
    async activeTasks(ctx) {
      const path = `/nodes/${enc(await node(ctx))}/tasks`;
      return ((await client.request(ctx, "GET", path, { source: "active" })) as PveTaskEntry[] | null) ?? [];
    },
    async firewallGroups(ctx) {
      const groups = (await client.request(ctx, "GET", "/cluster/firewall/groups")) as Array<{ group: string }> | null;
      return (groups ?? []).map((g) => g.group);
    },
    async firewallRules(ctx, vmid) {
      return (
        ((await client.request(ctx, "GET", await vmPath(ctx, vmid, "/firewall/rules"))) as PveFirewallRule[]) ?? []
      );
    },
    async addFirewallGroupRule(ctx, vmid, group) {
      // Synchronous (returns null), like PUT config.
      await client.request(ctx, "POST", await vmPath(ctx, vmid, "/firewall/rules"), {
        type: "group",
        action: group,
        enable: 1,
      });
    },
    async firewallOptions(ctx, vmid) {
      const path = await vmPath(ctx, vmid, "/firewall/options");
      return ((await client.request(ctx, "GET", path)) as PveFirewallOptions | null) ?? {};
    },
    async enableFirewall(ctx, vmid) {
      // Synchronous (returns null). Only `enable` is sent: policies set on the template stay as they are.
      await client.request(ctx, "PUT", await vmPath(ctx, vmid, "/firewall/options"), { enable: 1 });
    },
    // No `unlock`: clearing a `lock:` needs `skiplock`, which PVE grants to root@pam only, not to tokens.
    async volumeAlloc(ctx, storage, ownerVmid, fileName, size) {
      const data = await client.request(ctx, "POST", `/nodes/${enc(await node(ctx))}/storage/${enc(storage)}/content`, {
        vmid: ownerVmid,
        filename: fileName,
        size,
      });
      if (typeof data !== "string" || !data.includes(":")) {
        throw new BackendError(
          "internal",
          `allocating ${fileName} on ${storage} returned ${JSON.stringify(data)}, not a volid`,
        );
      }
      return data;
    },
    async volumeFree(ctx, volid) {
      const storage = volid.slice(0, volid.indexOf(":"));
      await task(
        ctx,
        "DELETE",
        `/nodes/${enc(await node(ctx))}/storage/${enc(storage)}/content/${enc(volid)}`,
        {},
        `deletion of ${volid}`,
      );
    },
    async close() {
      client.close();
    },
  };
}
