import type { PveConfig } from "./pve-driver.js";
import { agentEnabled, bootDisk, cloudInitDrive, isTemplate } from "./vm-config-fields.js";

/**
 * Whether a template can serve sandboxes (reference/proxmox.md §3 "Guest agent / IP", "Linked
 * clones"; agentlab-reference.md §5.1 ValidateTemplate). Each problem names the fix.
 */
export function templateProblems(templateVmid: number, config: PveConfig | undefined, node: string): string[] {
  if (!config) {
    return [
      `template VM ${templateVmid} does not exist on node '${node}': create it, or point the profile's template_vmid at an existing template`,
    ];
  }
  const problems: string[] = [];
  if (!isTemplate(config)) {
    problems.push(
      `VM ${templateVmid} is not a template, so clones would be full copies (slow, no linked clones): run 'qm template ${templateVmid}' on the node`,
    );
  }
  if (!agentEnabled(config)) {
    problems.push(
      `VM ${templateVmid} has the QEMU guest agent disabled, so the runner can never learn a sandbox's IP: run 'qm set ${templateVmid} --agent enabled=1' and install qemu-guest-agent in the image`,
    );
  }
  if (!cloudInitDrive(config)) {
    problems.push(
      `VM ${templateVmid} has no cloud-init drive, so the bootstrap snippet never reaches the guest: run 'qm set ${templateVmid} --ide2 <storage>:cloudinit'`,
    );
  }
  if (!bootDisk(config)) {
    problems.push(
      `VM ${templateVmid} has no boot disk: attach the image as scsi0 (or virtio0) and set 'boot: order=scsi0'`,
    );
  }
  return problems;
}
