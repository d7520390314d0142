import type { CallContext, GuestAddress } from "../../backend.js";
import { BackendError, isBackendError } from "../../backend-errors.js";
import { sleepWithinDeadline } from "./backoff.js";
import { bootFactsOf } from "./first-boot-facts.js";
import { type AgentInterface, describeInterfaces, selectGuestAddress } from "./guest-ip-selector.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import { read } from "./vm-guards.js";

/**
 * Polls the guest agent until it reports a usable IPv4 on net0's NIC, or the deadline passes
 * (reference/proxmox.md §0 rule 7, §1.5 agent endpoint, §3 "Guest agent / IP"). During boot the
 * agent is "not running" (each attempt can take ~3 s), then only loopback/link-local answer.
 */
const TRANSIENT_AGENT_TEXT =
  /QEMU guest agent is not running|got timeout|guest-ping|agent.*not (yet )?(available|ready)/i;

export async function waitForGuestAddress(core: ProxmoxCore, ctx: CallContext, vmid: number): Promise<GuestAddress> {
  // A VM's first boot after its provision knows these already; any other boot reads the config.
  const { agentEnabled, mac } =
    core.firstBoot.take(vmid) ?? bootFactsOf(await read(core, ctx, () => core.driver.getConfig(ctx, vmid)));
  if (!agentEnabled) {
    throw new BackendError("unavailable", `VM ${vmid} has no QEMU guest agent configured, so its IP cannot be learnt`, {
      vmid,
      hint: `enable it on the template ('qm set <template> --agent enabled=1') and install qemu-guest-agent in the image`,
    });
  }
  let lastSeen = "no answer yet";
  for (let attempt = 0; ; attempt++) {
    if (ctx.signal?.aborted)
      throw new BackendError("deadline", `waiting for the IP of VM ${vmid}: cancelled`, { vmid });
    try {
      const interfaces: AgentInterface[] = await core.driver.guestInterfaces(ctx, vmid);
      const address = selectGuestAddress(interfaces, mac);
      if (address) return address;
      lastSeen = `agent reported ${describeInterfaces(interfaces)}`;
    } catch (err) {
      if (!isBackendError(err)) throw err;
      if (/VM \d+ is not running/i.test(err.message)) {
        throw new BackendError("unavailable", `VM ${vmid} is not running, so it will never report an IP`, {
          vmid,
          hint: "start the VM first; if it stopped by itself, look at its console for a boot failure",
        });
      }
      const transient =
        TRANSIENT_AGENT_TEXT.test(err.message) || ["unreachable", "lock_timeout", "deadline"].includes(err.kind);
      if (!transient) throw err;
      // Keep the last thing Proxmox said; a call cut short by our own deadline says nothing new.
      if (err.kind !== "deadline") lastSeen = err.message;
    }
    if (!(await sleepWithinDeadline(ctx, core.deps, core.agentPoll, attempt))) {
      throw new BackendError("deadline", `VM ${vmid} reported no usable IPv4 before the deadline (last: ${lastSeen})`, {
        vmid,
        hint: "check the image runs qemu-guest-agent and gets a DHCP lease on net0's bridge; link-local and docker0 addresses are ignored on purpose",
      });
    }
  }
}
