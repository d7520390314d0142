import type { PveConfig } from "./pve-driver.js";
import { agentEnabled, configString, parseNet } from "./vm-config-fields.js";

/**
 * What waiting for a guest's address needs from its VM's config: whether the QEMU guest agent is
 * on, and net0's MAC. A provision has just read and written that config, so it leaves these here
 * for the VM's first boot, which takes them instead of reading the config again — one Proxmox
 * round trip less per sandbox, and pveproxy serves every request with a Perl worker. Taken once:
 * later boots (a stopped sandbox started again, a runner restarted meanwhile) read the config, so
 * an operator's edit between boots is always seen. Destroy forgets what no boot took, and the
 * memory holds at most MAX_REMEMBERED VMs (the oldest go first), so nothing piles up.
 */
export const MAX_REMEMBERED = 4096;

export interface BootFacts {
  agentEnabled: boolean;
  /** net0's MAC; undefined when the config has none (Proxmox generates one when the VM starts). */
  mac: string | undefined;
}

export interface FirstBootFacts {
  remember(vmid: number, facts: BootFacts): void;
  /** The facts a provision left for this VM, removed from memory; undefined if there are none. */
  take(vmid: number): BootFacts | undefined;
  forget(vmid: number): void;
}

export function bootFactsOf(config: PveConfig): BootFacts {
  return { agentEnabled: agentEnabled(config), mac: parseNet(configString(config, "net0")).mac };
}

export function createFirstBootFacts(max = MAX_REMEMBERED): FirstBootFacts {
  const facts = new Map<number, BootFacts>();
  return {
    remember(vmid, value) {
      facts.delete(vmid); // re-inserted last: Map order is the eviction order
      facts.set(vmid, value);
      if (facts.size > max) facts.delete(facts.keys().next().value as number);
    },
    take(vmid) {
      const value = facts.get(vmid);
      facts.delete(vmid);
      return value;
    },
    forget(vmid) {
      facts.delete(vmid);
    },
  };
}
