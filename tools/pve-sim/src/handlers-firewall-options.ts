import { createHash } from "node:crypto";
import type { ParamSpec } from "./param-schema.js";
import { paramError, pveDie } from "./pve-error.js";
import { firewallDigestMismatch, firewallNoSuchOption } from "./pve-messages.js";
import type { HandlerArgs } from "./sim-context.js";
import type { SimFirewallOptions } from "./sim-state.js";
import { assertNode } from "./vm-access.js";

/**
 * A VM's firewall options (pve-firewall's `GET|PUT /nodes/{node}/qemu/{vmid}/firewall/options`).
 * They live in the VM's `.fw` file next to its rules, so — like the rules — reading or setting them
 * does not check that the VM exists; clone copies them and destroy removes them (sim-state.ts).
 * A VM's rules, security groups included, filter nothing on a real host until `enable` is 1.
 */

const optionalFlag: ParamSpec = { type: "boolean", optional: true };
const policy: ParamSpec = { type: "string", optional: true, enum: ["ACCEPT", "REJECT", "DROP"] };
/** pve-common's `pve-fw-loglevel`. */
const logLevel: ParamSpec = {
  type: "string",
  optional: true,
  enum: ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"],
};

/** pve-firewall's vm_option_properties: what PUT accepts besides node/vmid/delete/digest. */
export const VM_FIREWALL_OPTION_SPECS: Record<string, ParamSpec> = {
  enable: optionalFlag,
  dhcp: optionalFlag,
  ipfilter: optionalFlag,
  macfilter: optionalFlag,
  ndp: optionalFlag,
  radv: optionalFlag,
  policy_in: policy,
  policy_out: policy,
  log_level_in: logLevel,
  log_level_out: logLevel,
};

/** pve-firewall copy_opject_with_digest: SHA-1 over `key:value\n`, keys sorted. */
function optionsDigest(options: SimFirewallOptions): string {
  const sha = createHash("sha1");
  for (const key of Object.keys(options).sort()) sha.update(`${key}:${options[key]}\n`);
  return sha.digest("hex");
}

function optionsOf(sim: HandlerArgs["sim"], vmid: number): SimFirewallOptions {
  return sim.state.vmFirewallOptions.get(vmid) ?? {};
}

/**
 * GET …/firewall/options → the options that are set, keys sorted, plus `digest`. A VM whose file
 * has no options answers `{digest}` alone: `enable` absent means the VM firewall is off.
 */
export function getVmFirewallOptions({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const options = optionsOf(sim, Number(params.vmid));
  const sorted = Object.fromEntries(
    Object.keys(options)
      .sort()
      .map((key) => [key, options[key]]),
  );
  return { ...sorted, digest: optionsDigest(options) };
}

/**
 * PUT …/firewall/options: sets the given options and deletes the `delete=` ones (deletion first, as
 * pve-firewall does); a synchronous call that returns null, not a task. Booleans are stored as 0/1.
 */
export function putVmFirewallOptions({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const current = optionsOf(sim, vmid);
  if (params.digest !== undefined && params.digest !== optionsDigest(current)) {
    throw pveDie(firewallDigestMismatch);
  }
  const next: SimFirewallOptions = { ...current };
  if (params.delete !== undefined) {
    for (const key of String(params.delete)
      .split(/[\s,;]+/)
      .filter((k) => k.length > 0)) {
      if (!(key in VM_FIREWALL_OPTION_SPECS)) throw paramError({ delete: firewallNoSuchOption(key) });
      delete next[key];
    }
  }
  for (const key of Object.keys(VM_FIREWALL_OPTION_SPECS)) {
    const value = params[key];
    if (value === undefined) continue;
    next[key] = typeof value === "boolean" ? (value ? 1 : 0) : value;
  }
  sim.state.vmFirewallOptions.set(vmid, next);
  return null;
}
