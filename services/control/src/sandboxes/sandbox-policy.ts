/** The knobs of the sandbox lifecycle, taken from config once at start. */
export interface SandboxPolicy {
  /** Written as `agentlab-<deployment_id>` on every VM this deployment creates. */
  deploymentId: string;
  /** Deadline for PROVISIONING (clone + configure), ms. */
  provisioningTimeoutMs: number;
  /** Deadline for BOOTING (start + guest address), ms. */
  bootTimeoutMs: number;
  /** Deadline for REQUESTED (waiting for a runner), ms. */
  requestedTimeoutMs: number;
  /** Cap on non-terminal sandboxes; 0 = no cap. */
  maxActiveSandboxes: number;
  /** How many fresh VMIDs to try when runners report "already exists". */
  vmidAttempts: number;
  /** Guest-facing control URL for Proxmox guests (controller_url). */
  controllerUrl: string;
  /** How long a bootstrap token lives, ms. */
  bootstrapTokenTtlMs: number;
  /**
   * Whether stop/destroy may adopt an untagged VM recorded by the original AgentLab. A staging copy
   * of a production database turns this off, so it can never act on production's migrated VMs.
   */
  adoptUntaggedVms: boolean;
}

export { ownerTagFor } from "@agentlab/core";
