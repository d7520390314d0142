import type { CallContext } from "../../backend.js";
import { BackendError, isBackendError } from "../../backend-errors.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import type { PveFirewallOptions } from "./pve-driver.js";
import { mutate, read } from "./vm-guards.js";

/**
 * A profile's firewall group (`network.mode` agent_nat_* or `network.firewall_group`) reaches the
 * VM the way Proxmox applies a security group: as a VM firewall rule `type=group`,
 * `action=<group>`, `enable=1` (pve-firewall rules API). Neither net0's `firewall=1` (set with the
 * rest of net0 by the provisioner) nor the rule filters anything while the VM's own firewall is off
 * — option `enable` in its `.fw` file, absent (off) on a new VM — so that is switched on too.
 * Proxmox stores a rule naming a group that does not exist without complaint, so the group is
 * looked up in `GET /cluster/firewall/groups` first. Idempotent: a retried provision finds the rule
 * and the option and sends nothing; a write whose answer was lost is re-sent only if it did not land.
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
  // The rule first, so that filtering starts with the group already in place.
  await ensureGroupRule(core, ctx, vmid, group);
  await ensureVmFirewallEnabled(core, ctx, vmid, group);
}

async function ensureGroupRule(core: ProxmoxCore, ctx: CallContext, vmid: number, group: string) {
  // Only an enabled rule counts: a disabled one (`|GROUP …`, e.g. copied from the template) applies
  // nothing, so an enabled rule is added next to it.
  const present = async () =>
    (await read(core, ctx, () => core.driver.firewallRules(ctx, vmid))).some(
      (rule) => rule.type === "group" && rule.action === group && Number(rule.enable) === 1,
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

/** pve-firewall's parser reads `enable` back as the number 1; a "1" from any transport counts too. */
function isEnabled(options: PveFirewallOptions): boolean {
  return Number(options.enable) === 1;
}

/**
 * Reads first and sends `enable=1` only when it is not set already. After a write the option is read
 * again: an unattended agent's isolation depends on it, so it is confirmed rather than assumed (a
 * proxy that answers without passing the call on would otherwise leave the sandbox unfiltered).
 */
async function ensureVmFirewallEnabled(core: ProxmoxCore, ctx: CallContext, vmid: number, group: string) {
  const enabled = async () => isEnabled(await read(core, ctx, () => core.driver.firewallOptions(ctx, vmid)));
  try {
    if (await enabled()) return;
    await mutate(core, ctx, () => core.driver.enableFirewall(ctx, vmid), enabled, ["lock_timeout"]);
    if (await enabled()) return;
  } catch (err) {
    if (!isBackendError(err)) throw err;
    throw new BackendError(
      err.kind,
      `enabling the firewall of VM ${vmid} (security group '${group}' filters nothing without it): ${err.message}`,
      {
        ...err.details,
        vmid,
        hint:
          err.kind === "auth"
            ? "grant the API token VM.Config.Network (to set the VM's firewall options) and VM.Audit (to read them) on the sandboxes' VMs"
            : (err.details.hint ??
              "the provision is refused rather than leaving the sandbox unfiltered; see docs/proxmox-backends.md (Firewall groups on the host)"),
      },
      { cause: err },
    );
  }
  throw new BackendError("internal", `VM ${vmid}'s firewall is still off after Proxmox accepted 'enable=1'`, {
    vmid,
    hint: `something between the runner and Proxmox, or another tool rewriting /etc/pve/firewall/${vmid}.fw, drops the change; security group '${group}' would filter nothing, so the provision is refused`,
  });
}
