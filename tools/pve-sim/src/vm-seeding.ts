import { randomMac, randomUuid } from "./seeded-random.js";
import type { SimContext } from "./sim-context.js";
import type { AgentBehaviour, TemplateOptions } from "./sim-options.js";
import type { SimVm } from "./sim-state.js";
import { createVm, removeVm } from "./vm-access.js";

/**
 * VMs that exist before any test call: templates (reference/proxmox.md §5.2: `template: 1`,
 * `agent: enabled=1`, cloud-init drive, base disk, net0) and arbitrary VMs seeded by tests.
 */
export interface VmSeed {
  vmid: number;
  name?: string;
  template?: boolean;
  running?: boolean;
  storage?: string;
  config?: Record<string, string>;
  agent?: Partial<AgentBehaviour>;
  diskSizeGiB?: number;
}

export const DEFAULT_AGENT: AgentBehaviour = { installed: true, respondsToShutdown: true };

export function seedVm(sim: SimContext, seed: VmSeed, defaultAgent: Partial<AgentBehaviour> = {}): SimVm {
  const storageId = seed.storage ?? "local-zfs";
  const template = seed.template ?? false;
  const disk = `${template ? "base" : "vm"}-${seed.vmid}-disk-0`;
  const size = seed.diskSizeGiB ?? 32;
  const config = new Map<string, string>([
    ["agent", "enabled=1"],
    ["boot", "order=scsi0"],
    ["cores", "2"],
    ["cpu", "x86-64-v2-AES"],
    ["ide2", `${storageId}:vm-${seed.vmid}-cloudinit,media=cdrom`],
    ["memory", "2048"],
    ["meta", `creation-qemu=9.0.2,ctime=${Math.floor(sim.clock.now() / 1000)}`],
    ["name", seed.name ?? (template ? `template-${seed.vmid}` : `vm-${seed.vmid}`)],
    ["net0", `virtio=${randomMac(sim.random)},bridge=vmbr0`],
    ["ostype", "l26"],
    ["scsi0", `${storageId}:${disk},size=${size}G`],
    ["scsihw", "virtio-scsi-pci"],
    ["serial0", "socket"],
    ["smbios1", `uuid=${randomUuid(sim.random)}`],
    ["vga", "serial0"],
    ["vmgenid", randomUuid(sim.random)],
  ]);
  if (template) config.set("template", "1");
  for (const [key, value] of Object.entries(seed.config ?? {})) config.set(key, value);
  removeVm(sim, seed.vmid);
  const vm = createVm(sim, seed.vmid, config, { ...DEFAULT_AGENT, ...defaultAgent, ...seed.agent }, "seed");
  const storage = sim.state.storages.get(storageId);
  if (storage) {
    storage.volumes.set(`${storageId}:${disk}`, {
      volid: `${storageId}:${disk}`,
      vmid: seed.vmid,
      sizeBytes: size * 1024 ** 3,
    });
    const ci = `${storageId}:vm-${seed.vmid}-cloudinit`;
    storage.volumes.set(ci, { volid: ci, vmid: seed.vmid, sizeBytes: 4 * 1024 ** 2 });
  }
  if (seed.running) {
    vm.runState = "running";
    vm.bootedAt = sim.clock.now();
    vm.pid = 10_000 + seed.vmid;
  }
  return vm;
}

export function seedTemplate(sim: SimContext, template: TemplateOptions, defaultAgent: Partial<AgentBehaviour>): SimVm {
  return seedVm(
    sim,
    {
      vmid: template.vmid,
      name: template.name ?? `template-${template.vmid}`,
      template: true,
      storage: template.storage ?? "local-zfs",
      ...(template.config ? { config: template.config } : {}),
      ...(template.agent ? { agent: template.agent } : {}),
      ...(template.diskSizeGiB !== undefined ? { diskSizeGiB: template.diskSizeGiB } : {}),
    },
    defaultAgent,
  );
}
