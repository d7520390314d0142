/**
 * What the Proxmox simulator saw of a job's VM: its clone requests (REST or fake `qm`) and whether
 * the VM or its snippet is still there.
 */
import { readdirSync } from "node:fs";
import type { PveSim } from "@agentlab/pve-sim";

/**
 * Clone requests that targeted `vmid`: REST `POST …/qemu/<template>/clone` with newid = vmid, or a
 * fake-CLI `qm clone <template> <vmid> …` (logged once, by its argv).
 */
export function cloneRequestsFor(sim: PveSim, vmid: number) {
  return sim.requests().filter((r) => {
    if (r.source === "api") {
      return r.method === "POST" && /\/qemu\/\d+\/clone$/.test(r.path) && String(r.params.newid) === String(vmid);
    }
    const argv = r.params.argv as string[] | undefined;
    return argv?.[0] === "qm" && argv[1] === "clone" && argv[3] === String(vmid);
  });
}

/** VMIDs of VMs made since the sim started (the seeded template 9000 aside). */
export function simVmsBesidesTemplates(sim: PveSim): number[] {
  return [...sim.state.vms.values()].filter((vm) => vm.owner !== "seed").map((vm) => vm.vmid);
}

/** Snippet files the runner wrote for `vmid` (agentlab-<vmid>-<hex>.yaml) that still exist. */
export function snippetFilesFor(snippetsDir: string, vmid: number): string[] {
  return readdirSync(snippetsDir).filter((name) => name.startsWith(`agentlab-${vmid}-`));
}
