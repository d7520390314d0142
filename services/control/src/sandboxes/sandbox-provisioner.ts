/**
 * Brings a REQUESTED sandbox up through its runner: PROVISIONING (clone, configure, bootstrap data)
 * → BOOTING (start, then wait for the guest's address, in one call: vm-boot.ts) → READY. Every step
 * has a deadline and leaves an event. On failure the sandbox ends FAILED with the reason, and only
 * what we created is destroyed (a VMID the hypervisor already had is left alone and skipped).
 */

import { NetworkSpecSchema, type ProvisionVmRequestSchema } from "@agentlab/api";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { LoadedProfile } from "../profiles/profile-loader.js";
import { FIREWALL_GROUP_FOR_MODE } from "../profiles/profile-schema.js";
import type { RunnerHandle } from "../runners/runner-pool.js";
import { connectCode, errorText, isVmidTaken, untilDeadline } from "./runner-call.js";
import type { SandboxPolicy } from "./sandbox-policy.js";
import { ownerTagFor } from "./sandbox-policy.js";
import type { SandboxRecord } from "./sandbox-record.js";
import { moveSandbox, type SandboxStateContext, transitionSandbox } from "./sandbox-transitions.js";
import { bootVm } from "./vm-boot.js";

export interface ProvisionDeps extends SandboxStateContext {
  policy: SandboxPolicy;
}

export interface ProvisionInput {
  record: SandboxRecord;
  runner: RunnerHandle;
  profile: LoadedProfile;
  bootstrapJson: string;
  jobId?: string;
  /** Local sandboxes: host directories to show read-only (a job's local repository). */
  readOnlyPaths?: string[];
  signal?: AbortSignal;
}

/** Raised when the hypervisor already has a VM with this VMID: the caller retries with another. */
export class VmidTakenError extends Error {
  override readonly name = "VmidTakenError";
}

export function provisionRequest(
  input: ProvisionInput,
  policy: SandboxPolicy,
): MessageInitShape<typeof ProvisionVmRequestSchema> {
  const { record, profile } = input;
  const p = profile.profile;
  const network =
    p.backend === "proxmox"
      ? create(NetworkSpecSchema, {
          bridge: p.network.bridge ?? "",
          model: p.network.model ?? "virtio",
          firewallGroup: p.network.firewall_group ?? (p.network.mode ? FIREWALL_GROUP_FOR_MODE[p.network.mode] : ""),
          ...(p.network.firewall !== undefined && { firewall: p.network.firewall }),
        })
      : create(NetworkSpecSchema, { localMode: p.network.mode });
  return {
    requestId: `provision-${record.vmid}-${record.createdAt}`,
    vmid: record.vmid,
    name: record.name,
    templateVmid: p.backend === "proxmox" ? p.template_vmid : 0,
    cores: p.resources.cores ?? 0,
    memoryMb: p.resources.memory_mb ?? 0,
    network,
    rootSizeGb: p.backend === "proxmox" ? (p.storage.root_size_gb ?? 0) : 0,
    bootstrapJson: input.bootstrapJson,
    ownerTag: ownerTagFor(policy.deploymentId),
    description: `AgentLab sandbox ${record.name} (profile ${profile.name})`,
    readOnlyPaths: p.backend === "local" ? (input.readOnlyPaths ?? []) : [],
  };
}

/**
 * Runs the provisioning steps. Resolves with the READY sandbox; on failure marks it FAILED (after
 * destroying what was created) and rethrows. `VmidTakenError` means nothing was created.
 */
export async function provisionSandbox(deps: ProvisionDeps, input: ProvisionInput): Promise<SandboxRecord> {
  const { record, runner, signal } = input;
  const vmid = record.vmid;
  const jobOpt = input.jobId ? { jobId: input.jobId } : {};
  const now = () => deps.clock().getTime();
  let created = false;
  try {
    transitionSandbox(deps, vmid, "REQUESTED", "PROVISIONING", jobOpt);
    const provisionDeadline = now() + deps.policy.provisioningTimeoutMs;
    created = true; // from here on a VM may exist, even if the call fails half-way
    try {
      await runner.client.provisionVm(
        provisionRequest(input, deps.policy),
        untilDeadline(provisionDeadline, now(), signal),
      );
    } catch (err) {
      if (isVmidTaken(err)) {
        created = false;
        throw new VmidTakenError(`VMID ${vmid} already exists on runner ${runner.name}: ${errorText(err)}`);
      }
      throw new StepError("provisioning", err);
    }
    transitionSandbox(deps, vmid, "PROVISIONING", "BOOTING", jobOpt);
    const bootDeadline = now() + deps.policy.bootTimeoutMs;
    let ip: string;
    try {
      ip = await bootVm(
        runner.client,
        { requestId: `start-${vmid}-${record.createdAt}`, vmid },
        bootDeadline,
        now,
        signal,
      );
    } catch (err) {
      // The runner's text says which half failed: the start task, or the guest's address.
      throw new StepError("booting the VM", err);
    }
    return transitionSandbox(deps, vmid, "BOOTING", "READY", { ...jobOpt, ip });
  } catch (err) {
    const reason = err instanceof VmidTakenError ? err.message : `${errorText(err)}`;
    await failAndClean(deps, input, reason, created);
    throw err;
  }
}

/**
 * A failed provisioning step, named so the reason reads "starting the VM failed: …". It keeps the
 * runner's Connect code (so a caller sees UNAVAILABLE for an unreachable hypervisor, INVALID_ARGUMENT
 * for a bad template) and the runner's text, which is what an operator needs to act.
 */
export class StepError extends ConnectError {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`${step} failed: ${errorText(cause)}`, connectCode(cause) ?? Code.Internal, undefined, undefined, cause);
  }
}

async function failAndClean(
  deps: ProvisionDeps,
  input: ProvisionInput,
  reason: string,
  created: boolean,
): Promise<void> {
  const vmid = input.record.vmid;
  const jobOpt = input.jobId ? { jobId: input.jobId } : {};
  try {
    moveSandbox(deps, vmid, "FAILED", { ...jobOpt, reason });
  } catch {
    // Someone else already moved it (destroyed by the user, say): nothing left for us to record.
    return;
  }
  if (!created) {
    moveSandbox(deps, vmid, "DESTROYED", { ...jobOpt, reason });
    return;
  }
  try {
    // The runner destroys only VMs carrying our tag, so a VM we never got to tag is left alone.
    await input.runner.client.destroyVm(
      { requestId: `destroy-${vmid}-${input.record.createdAt}`, vmid },
      { timeoutMs: deps.policy.provisioningTimeoutMs },
    );
    moveSandbox(deps, vmid, "DESTROYED", { ...jobOpt, reason });
  } catch {
    // Left FAILED: the reconciler and orphan sweep retry the destroy later.
  }
}
