/**
 * Deadlines on sandboxes still being brought up (REQUESTED, PROVISIONING, BOOTING) that no request
 * of this process is working on — after a control restart, or a crash mid-step. Past the deadline
 * of its state the sandbox FAILS with the reason and what may have been created is destroyed
 * (the runner destroys only VMs carrying our tag). Work in progress has its own per-call deadlines.
 */
import type { Logger } from "@agentlab/core";
import { parseTimestamp } from "../db/timestamps.js";
import type { RunnerPool } from "../runners/runner-pool.js";
import { errorText } from "../sandboxes/runner-call.js";
import type { SandboxLifecycle } from "../sandboxes/sandbox-lifecycle.js";
import type { SandboxPolicy } from "../sandboxes/sandbox-policy.js";
import { type SandboxStateName, STARTING_STATES } from "../sandboxes/sandbox-state-machine.js";
import { listSandboxesInStates } from "../sandboxes/sandbox-store.js";
import { moveSandbox, type SandboxStateContext } from "../sandboxes/sandbox-transitions.js";

export interface DeadlineDeps extends SandboxStateContext {
  lifecycle: SandboxLifecycle;
  runners: RunnerPool;
  policy: SandboxPolicy;
  logger: Logger;
}

function deadlineFor(policy: SandboxPolicy, state: SandboxStateName): number {
  if (state === "REQUESTED") return policy.requestedTimeoutMs;
  if (state === "PROVISIONING") return policy.provisioningTimeoutMs;
  return policy.bootTimeoutMs;
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)}m`;

export async function enforceStartingDeadlines(
  deps: DeadlineDeps,
  options: { interrupted?: boolean } = {},
): Promise<number[]> {
  const failed: number[] = [];
  const now = deps.clock().getTime();
  for (const sandbox of listSandboxesInStates(deps.db, STARTING_STATES)) {
    if (deps.lifecycle.isProvisioning(sandbox.vmid)) continue;
    const entered = parseTimestamp(String(sandbox.meta.stateEnteredAt ?? sandbox.updatedAt)).getTime();
    const limit = deadlineFor(deps.policy, sandbox.state);
    // At startup nothing is working on these rows any more: waiting out the deadline gains nothing.
    if (!options.interrupted && now - entered < limit) continue;
    const reason = options.interrupted
      ? `${sandbox.state} interrupted: control restarted before the sandbox was ready`
      : `${sandbox.state} deadline of ${minutes(limit)} passed`;
    try {
      moveSandbox(deps, sandbox.vmid, "FAILED", { reason });
      failed.push(sandbox.vmid);
    } catch {
      continue;
    }
    if (sandbox.state === "REQUESTED") {
      // Nothing was asked of a runner yet: there is no VM to destroy.
      moveSandbox(deps, sandbox.vmid, "DESTROYED", { reason });
      continue;
    }
    try {
      await deps.lifecycle.destroy({ vmid: sandbox.vmid }, { reason });
    } catch (err) {
      deps.logger.warn(
        { vmid: sandbox.vmid, err: errorText(err) },
        "could not destroy a sandbox past its deadline; the reconciler retries",
      );
    }
  }
  return failed;
}
