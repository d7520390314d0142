/**
 * Lease expiry (agentlab-reference.md §7): a sandbox whose lease has passed is timed out and
 * destroyed, keepalive or not — keepalive only keeps a sandbox after its job. A runner that cannot
 * be reached leaves the sandbox TIMEOUT; the next run retries the destroy.
 */
import type { Logger } from "@agentlab/core";
import { formatTimestamp } from "../db/timestamps.js";
import { errorText } from "../sandboxes/runner-call.js";
import type { SandboxLifecycle } from "../sandboxes/sandbox-lifecycle.js";
import { LIVE_STATES } from "../sandboxes/sandbox-state-machine.js";
import { moveSandbox, type SandboxStateContext } from "../sandboxes/sandbox-transitions.js";

export interface LeaseExpiryDeps extends SandboxStateContext {
  lifecycle: SandboxLifecycle;
  logger: Logger;
}

export async function expireLeases(deps: LeaseExpiryDeps): Promise<number[]> {
  const now = formatTimestamp(deps.clock());
  const expired = deps.db
    .prepare(
      `SELECT vmid, state FROM sandboxes
       WHERE lease_expires_at IS NOT NULL AND lease_expires_at <> '' AND lease_expires_at <= ? AND state <> 'DESTROYED'
       ORDER BY lease_expires_at`,
    )
    .all(now) as { vmid: number; state: string }[];
  const destroyed: number[] = [];
  for (const { vmid, state } of expired) {
    if (deps.lifecycle.isProvisioning(vmid)) continue;
    const reason = "lease expired";
    try {
      if ((LIVE_STATES as readonly string[]).includes(state)) moveSandbox(deps, vmid, "TIMEOUT", { reason });
      await deps.lifecycle.destroy({ vmid }, { reason });
      destroyed.push(vmid);
    } catch (err) {
      deps.logger.warn({ vmid, err: errorText(err) }, "lease expiry: destroy failed; will retry");
    }
  }
  return destroyed;
}
