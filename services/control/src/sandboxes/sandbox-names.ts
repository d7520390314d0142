/**
 * Sandbox names become Proxmox VM names, which must be DNS labels (proxmox.md §1.1: no `_`), and
 * are never all digits so a name can never be mistaken for a VMID (DESIGN §4).
 */
import { InvalidArgumentError } from "@agentlab/core";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkSandboxName(name: string): void {
  if (!DNS_LABEL.test(name) || /^\d+$/.test(name)) {
    throw new InvalidArgumentError({
      message: `invalid sandbox name ${JSON.stringify(name)}`,
      what: "name",
      value: name,
      hint: "use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit, not all digits",
    });
  }
}

export const defaultSandboxName = (vmid: number) => `sandbox-${vmid}`;

export const MAX_TTL_MINUTES = 525_600;

export function checkTtlMinutes(ttl: number | undefined, what = "ttl_minutes"): void {
  if (ttl === undefined) return;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_MINUTES) {
    throw new InvalidArgumentError({
      message: `${what} ${ttl} is out of range`,
      what,
      value: ttl,
      hint: `use 1..${MAX_TTL_MINUTES} minutes`,
    });
  }
}
