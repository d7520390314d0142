import { getNetworkInterfaces } from "./handlers-agent.js";
import { getClusterResources, getNextId, getNodeStatus, getVersion, listNodes } from "./handlers-cluster.js";
import {
  deleteVmFirewallRule,
  listFirewallGroups,
  listVmFirewallRules,
  postVmFirewallRule,
  RULE_TEXT_KEYS,
} from "./handlers-firewall.js";
import { getVmFirewallOptions, putVmFirewallOptions, VM_FIREWALL_OPTION_SPECS } from "./handlers-firewall-options.js";
import { postClone } from "./handlers-qemu-clone.js";
import { deleteVm, getConfig, postConfig, putConfig } from "./handlers-qemu-config.js";
import { getStatusCurrent, listQemu, postShutdown, postStart, postStop } from "./handlers-qemu-power.js";
import { putResize } from "./handlers-qemu-resize.js";
import { deleteSnapshot, listSnapshots, postRollback, postSnapshot } from "./handlers-snapshot.js";
import {
  deleteStorageContent,
  deleteTask,
  getTaskLog,
  getTaskStatus,
  listStorageContent,
  listStorages,
  listTasks,
  postStorageContent,
} from "./handlers-storage-tasks.js";
import {
  configUpdateSchema,
  optionalBoolean,
  optionalInteger,
  optionalString,
  type ParamSchema,
  type ParamSpec,
  verifyParams,
  vmidSpec,
} from "./param-schema.js";
import { PveError } from "./pve-error.js";
import { notImplemented, onlyRoot } from "./pve-messages.js";
import type { ApiCall, ApiHandler, SimContext } from "./sim-context.js";

/**
 * The REST surface (reference/proxmox.md §1.5, §5.3): method + path pattern → parameter schema →
 * handler. REST and the fake CLI both go through `dispatchApi`, so they cannot drift apart.
 */
interface Route {
  method: ApiCall["method"];
  pattern: RegExp;
  schema: ParamSchema;
  handler: ApiHandler;
}

const node: ParamSpec = { type: "string" };
const snapname: ParamSpec = { type: "string", format: "configid", maxLength: 40 };
const nodeVm = { node, vmid: vmidSpec };
const Q = "/nodes/(?<node>[^/]+)/qemu/(?<vmid>[^/]+)";

function route(method: Route["method"], path: string, properties: Record<string, ParamSpec>, handler: ApiHandler) {
  return { method, pattern: new RegExp(`^${path}/?$`), schema: { properties }, handler };
}

const ROUTES: Route[] = [
  route("GET", "/version", {}, getVersion),
  route("GET", "/nodes", {}, listNodes),
  route("GET", "/nodes/(?<node>[^/]+)/status", { node }, getNodeStatus),
  route("GET", "/cluster/nextid", { vmid: { ...vmidSpec, optional: true } }, getNextId),
  route("GET", "/cluster/resources", { type: optionalString }, getClusterResources),
  route("GET", "/nodes/(?<node>[^/]+)/qemu", { node, full: optionalBoolean }, listQemu),
  route(
    "POST",
    `${Q}/clone`,
    {
      ...nodeVm,
      newid: vmidSpec,
      name: { type: "string", optional: true, format: "dns-name" },
      description: optionalString,
      full: optionalBoolean,
      target: optionalString,
      storage: optionalString,
      format: optionalString,
      pool: optionalString,
      snapname: { ...snapname, optional: true },
      bwlimit: optionalInteger,
    },
    postClone,
  ),
  route("GET", `${Q}/status/current`, nodeVm, getStatusCurrent),
  route("POST", `${Q}/status/start`, { ...nodeVm, timeout: optionalInteger, skiplock: optionalBoolean }, postStart),
  route(
    "POST",
    `${Q}/status/stop`,
    {
      ...nodeVm,
      timeout: optionalInteger,
      skiplock: optionalBoolean,
      keepActive: optionalBoolean,
      "overrule-shutdown": optionalBoolean,
    },
    postStop,
  ),
  route(
    "POST",
    `${Q}/status/shutdown`,
    {
      ...nodeVm,
      timeout: optionalInteger,
      forceStop: optionalBoolean,
      keepActive: optionalBoolean,
      skiplock: optionalBoolean,
    },
    postShutdown,
  ),
  route(
    "DELETE",
    Q,
    { ...nodeVm, purge: optionalBoolean, "destroy-unreferenced-disks": optionalBoolean, skiplock: optionalBoolean },
    deleteVm,
  ),
  route("GET", `${Q}/config`, { ...nodeVm, current: optionalBoolean, snapshot: optionalString }, getConfig),
  {
    method: "PUT",
    pattern: new RegExp(`^${Q}/config/?$`),
    schema: configUpdateSchema(nodeVm),
    handler: putConfig,
  },
  {
    method: "POST",
    pattern: new RegExp(`^${Q}/config/?$`),
    schema: configUpdateSchema({
      ...nodeVm,
      background_delay: { type: "integer", optional: true, minimum: 1, maximum: 30 },
    }),
    handler: postConfig,
  },
  route(
    "PUT",
    `${Q}/resize`,
    {
      ...nodeVm,
      disk: { type: "string" },
      size: { type: "string" },
      digest: { type: "string", optional: true, maxLength: 64 },
      skiplock: optionalBoolean,
    },
    putResize,
  ),
  route("GET", "/cluster/firewall/groups", {}, listFirewallGroups),
  route("GET", `${Q}/firewall/rules`, nodeVm, listVmFirewallRules),
  route(
    "POST",
    `${Q}/firewall/rules`,
    {
      ...nodeVm,
      type: { type: "string" },
      // 'ACCEPT', 'DROP', 'REJECT' or a security group name (pve-firewall rule properties).
      action: { type: "string", maxLength: 20 },
      enable: { type: "integer", optional: true, minimum: 0 },
      pos: { type: "integer", optional: true, minimum: 0 },
      digest: { type: "string", optional: true, maxLength: 64 },
      ...Object.fromEntries(RULE_TEXT_KEYS.map((key) => [key, optionalString])),
    },
    postVmFirewallRule,
  ),
  route(
    "DELETE",
    `${Q}/firewall/rules/(?<pos>\\d+)`,
    { ...nodeVm, pos: { type: "integer", minimum: 0 }, digest: { type: "string", optional: true, maxLength: 64 } },
    deleteVmFirewallRule,
  ),
  route("GET", `${Q}/firewall/options`, nodeVm, getVmFirewallOptions),
  route(
    "PUT",
    `${Q}/firewall/options`,
    {
      ...nodeVm,
      ...VM_FIREWALL_OPTION_SPECS,
      delete: optionalString,
      digest: { type: "string", optional: true, maxLength: 64 },
    },
    putVmFirewallOptions,
  ),
  route("GET", `${Q}/agent/network-get-interfaces`, nodeVm, getNetworkInterfaces),
  route("GET", `${Q}/snapshot`, nodeVm, listSnapshots),
  route(
    "POST",
    `${Q}/snapshot`,
    { ...nodeVm, snapname, vmstate: optionalBoolean, description: optionalString },
    postSnapshot,
  ),
  route(
    "POST",
    `${Q}/snapshot/(?<snapname>[^/]+)/rollback`,
    { ...nodeVm, snapname, start: optionalBoolean },
    postRollback,
  ),
  route("DELETE", `${Q}/snapshot/(?<snapname>[^/]+)`, { ...nodeVm, snapname, force: optionalBoolean }, deleteSnapshot),
  route("GET", "/nodes/(?<node>[^/]+)/storage", { node, content: optionalString }, listStorages),
  route(
    "GET",
    "/nodes/(?<node>[^/]+)/storage/(?<storage>[^/]+)/content",
    { node, storage: { type: "string" }, content: optionalString, vmid: { ...vmidSpec, optional: true } },
    listStorageContent,
  ),
  route(
    "POST",
    "/nodes/(?<node>[^/]+)/storage/(?<storage>[^/]+)/content",
    {
      node,
      storage: { type: "string" },
      vmid: vmidSpec,
      filename: { type: "string" },
      size: { type: "string" },
      format: optionalString,
    },
    postStorageContent,
  ),
  route(
    "DELETE",
    "/nodes/(?<node>[^/]+)/storage/(?<storage>[^/]+)/content/(?<volume>[^/]+)",
    { node, storage: { type: "string" }, volume: { type: "string" }, delay: optionalInteger },
    deleteStorageContent,
  ),
  route(
    "GET",
    "/nodes/(?<node>[^/]+)/tasks",
    {
      node,
      limit: optionalInteger,
      start: optionalInteger,
      vmid: optionalInteger,
      source: optionalString,
      typefilter: optionalString,
      errors: optionalBoolean,
    },
    listTasks,
  ),
  route("GET", "/nodes/(?<node>[^/]+)/tasks/(?<upid>[^/]+)/status", { node, upid: { type: "string" } }, getTaskStatus),
  route(
    "GET",
    "/nodes/(?<node>[^/]+)/tasks/(?<upid>[^/]+)/log",
    { node, upid: { type: "string" }, start: optionalInteger, limit: optionalInteger, download: optionalBoolean },
    getTaskLog,
  ),
  route("DELETE", "/nodes/(?<node>[^/]+)/tasks/(?<upid>[^/]+)", { node, upid: { type: "string" } }, deleteTask),
];

/** Does any route serve this path (for pvesh's `no '<cmd>' handler` vs PVE errors)? */
export function findRoute(
  method: ApiCall["method"],
  path: string,
): { route: Route; pathParams: Record<string, string> } | undefined {
  for (const r of ROUTES) {
    if (r.method !== method) continue;
    const m = r.pattern.exec(path);
    if (m) {
      const pathParams: Record<string, string> = {};
      for (const [key, value] of Object.entries(m.groups ?? {})) pathParams[key] = decodeURIComponent(value);
      return { route: r, pathParams };
    }
  }
  return undefined;
}

/** Runs one API call: route → schema check (400) → handler (500 on `die`). */
export async function dispatchApi(sim: SimContext, call: ApiCall): Promise<unknown> {
  const path = call.path.replace(/\/+$/, "") || "/";
  const found = findRoute(call.method, path);
  if (!found) throw new PveError(501, notImplemented(call.method, path));
  // Path parameters win over body/query ones, as in PVE's handler merge.
  const raw = { ...call.params, ...found.pathParams };
  const params = verifyParams(found.route.schema, raw, call.strictForm);
  // §1.5: `skiplock` is root-only — API tokens (even root@pam!x) are refused.
  if (params.skiplock === true && call.authId !== "root@pam") throw new PveError(403, onlyRoot);
  return found.route.handler({ sim, call, params });
}
