/**
 * The ownership tag every VM of a deployment carries (DESIGN §2): `agentlab-<deployment_id>`.
 * Control writes it on provision and the runner checks it before stop or destroy, so both must
 * spell it the same way. Lower-case, because Proxmox lower-cases tags when it stores them.
 */
export function ownerTagFor(deploymentId: string): string {
  return `agentlab-${deploymentId}`.toLowerCase();
}
