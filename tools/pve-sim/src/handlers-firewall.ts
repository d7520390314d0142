import { createHash } from "node:crypto";
import { paramError, pveDie } from "./pve-error.js";
import {
  firewallActionUnknown,
  firewallDigestMismatch,
  firewallGroupNameInvalid,
  firewallNoRule,
  firewallRuleTypeUnknown,
} from "./pve-messages.js";
import type { HandlerArgs } from "./sim-context.js";
import type { SimFirewallRule } from "./sim-state.js";
import { assertNode } from "./vm-access.js";

/**
 * Cluster security groups and per-VM firewall rules (pve-firewall's Rules/Groups API; a security
 * group is applied to a VM by a rule `type=group`, `action=<group>`). Like Proxmox, the VM rules
 * live in their own file apart from the VM config: listing or adding rules does not check that
 * the VM exists, clone copies them, destroy removes them. Proxmox's verify_rule checks a group's
 * name pattern but not that the group exists; the simulator does the same.
 */
const SECURITY_GROUP_NAME = /^[A-Za-z][A-Za-z0-9_-]+$/;

/** Rule properties the API accepts besides `type`/`action`/`enable`/`pos`/`digest`. */
export const RULE_TEXT_KEYS = [
  "comment",
  "dest",
  "dport",
  "iface",
  "icmp-type",
  "log",
  "macro",
  "proto",
  "source",
  "sport",
] as const;

function digestOf(value: unknown): string {
  return createHash("sha1").update(JSON.stringify(value)).digest("hex");
}

/** GET /cluster/firewall/groups → `[{group, comment?, digest}]`, sorted by name. */
export function listFirewallGroups({ sim }: HandlerArgs): unknown {
  const names = [...sim.state.firewallGroups.keys()].sort();
  const digest = digestOf(names);
  return names.map((group) => {
    const comment = sim.state.firewallGroups.get(group)?.comment;
    return { group, digest, ...(comment !== undefined ? { comment } : {}) };
  });
}

function rulesOf(sim: HandlerArgs["sim"], vmid: number): SimFirewallRule[] {
  return sim.state.vmFirewallRules.get(vmid) ?? [];
}

/** GET …/qemu/{vmid}/firewall/rules → the rules with their `pos` (0 first). */
export function listVmFirewallRules({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  return rulesOf(sim, Number(params.vmid)).map((rule, pos) => ({ ...rule, pos }));
}

/** The part of pve-firewall's verify_rule the runner can trip over: type, action, group name. */
function verifyRule(rule: SimFirewallRule): void {
  if (rule.type === "in" || rule.type === "out") {
    if (!/^(ACCEPT|DROP|REJECT)$/.test(rule.action)) throw paramError({ action: firewallActionUnknown(rule.action) });
  } else if (rule.type === "group") {
    if (!SECURITY_GROUP_NAME.test(rule.action)) throw paramError({ action: firewallGroupNameInvalid });
  } else {
    throw paramError({ type: firewallRuleTypeUnknown(rule.type) });
  }
}

/** POST …/qemu/{vmid}/firewall/rules: a new rule goes first (or at `pos`); returns null (sync). */
export function postVmFirewallRule({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const rules = rulesOf(sim, vmid);
  if (params.digest !== undefined && params.digest !== digestOf(rules)) {
    throw pveDie(firewallDigestMismatch);
  }
  const rule: SimFirewallRule = {
    type: String(params.type),
    action: String(params.action),
    // pve-firewall stores a new rule disabled unless `enable` is given.
    enable: params.enable !== undefined ? Number(params.enable) : 0,
  };
  for (const key of RULE_TEXT_KEYS) {
    if (params[key] !== undefined) rule[key] = String(params[key]);
  }
  verifyRule(rule);
  const pos = params.pos !== undefined ? Number(params.pos) : 0;
  const next = [...rules];
  next.splice(Math.min(pos, next.length), 0, rule);
  sim.state.vmFirewallRules.set(vmid, next);
  return null;
}

/** DELETE …/qemu/{vmid}/firewall/rules/{pos}. */
export function deleteVmFirewallRule({ sim, params }: HandlerArgs): unknown {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const pos = Number(params.pos);
  const rules = rulesOf(sim, vmid);
  if (pos >= rules.length) throw pveDie(firewallNoRule(pos));
  sim.state.vmFirewallRules.set(
    vmid,
    rules.filter((_rule, i) => i !== pos),
  );
  return null;
}
