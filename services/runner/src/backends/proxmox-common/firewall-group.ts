import type { CallContext } from "../../backend.js";
import { BackendError } from "../../backend-errors.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import { mutate, read } from "./vm-guards.js";

/**
 * A profile's firewall group (`network.mode` agent_nat_* or `network.firewall_group`) reaches the
 * VM the way Proxmox applies a security group: as a VM firewall rule `type=group`,
 * `action=<group>`, `enable=1` (pve-firewall rules API). net0's `firewall=1` alone applies no
 * rules. Proxmox stores a rule naming a group that does not exist without complaint, so the group
 * is looked up in `GET /cluster/firewall/groups` first. Idempotent: a retried provision finds the
 * rule and adds nothing; a POST whose answer was lost is re-sent only if the rule is not there.
 */

/** pve-firewall: security group names `[A-Za-z][A-Za-z0-9_-]+`; a rule's `action` holds at most 20. */
const GROUP_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,19}$/;

export function validateFirewallGroup(group: string, vmid: number): void {
  if (!GROUP_NAME.test(group)) {
    throw new BackendError(
      "invalid_argument",
      `firewall group ${JSON.stringify(group)} is not a valid security group name`,
      {
        vmid,
        hint: "Proxmox security group names start with a letter, then letters, digits, '-' or '_' (2–18 characters for groups created through the API)",
      },
    );
  }
}

export async function applyFirewallGroup(core: ProxmoxCore, ctx: CallContext, vmid: number, group: string) {
  const present = async () =>
    (await read(core, ctx, () => core.driver.firewallRules(ctx, vmid))).some(
      (rule) => rule.type === "group" && rule.action === group,
    );
  if (await present()) return;
  const groups = await read(core, ctx, () => core.driver.firewallGroups(ctx));
  if (!groups.includes(group)) {
    throw new BackendError(
      "invalid_argument",
      `security group '${group}' does not exist in the cluster firewall (known: ${groups.join(", ") || "none"})`,
      {
        vmid,
        hint: `create it under Datacenter → Firewall → Security Group (or in /etc/pve/firewall/cluster.fw), or fix the profile's network mode / firewall_group`,
      },
    );
  }
  await mutate(
    core,
    ctx,
    () => core.driver.addFirewallGroupRule(ctx, vmid, group),
    () => present(),
    ["lock_timeout"],
  );
}
