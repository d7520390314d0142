import type { CallContext } from "../../backend.js";
import { BackendError, isBackendError } from "../../backend-errors.js";
import { type BackoffPolicy, sleepWithinDeadline } from "../proxmox-common/backoff.js";
import { kindOfPveText, pveError } from "../proxmox-common/pve-errors.js";
import type { RuntimeDeps } from "../proxmox-common/runtime-deps.js";
import { parseUpid, taskSucceeded } from "../proxmox-common/upid.js";
import type { PveClient } from "./pve-client.js";

/**
 * Waits for a Proxmox task (reference/proxmox.md §1.4). HTTP 200 with a UPID means only "started";
 * the outcome is `exitstatus` once `status` is `stopped`: `OK` or `WARNINGS: n` is success (§0 rule
 * 2 — the original treated WARNINGS as failure). Polled on the node named in the UPID (rule 4),
 * through transient 5xx/59x, until the call's deadline, on DEFAULT_TASK_POLL below.
 */
export interface TaskOutcome {
  upid: string;
  exitstatus: string;
  warnings: number;
}

const TRANSIENT = new Set(["unreachable", "lock_timeout", "internal"]);

/**
 * The API backend's task polling: one poll at once, then 20 ms, 50, 125, 310, 780 ms, then once a
 * second (each wait jittered to 50–100 % of that). Many tasks have already stopped when the first
 * poll arrives (a stop of a stopped VM, a destroy, any task on a fast or idle node), and a fixed
 * first wait of 0.5 s would cost every one of them half a second. The cap is 1 s, not the 5 s of
 * §1.4, because a clone holds one of the few clone slots until its poll sees it finish: with 5 s,
 * every wave of clones idled ~1 s on average and 50 jobs took 1.6× their lower bound (bench:jobs).
 * A status GET is a cheap read — the Proxmox web UI's task viewer polls once a second too — so a
 * 30 s full clone costs ~35 of them. The shell backend is unaffected: `qm` waits for its task itself.
 */
export const DEFAULT_TASK_POLL: BackoffPolicy = { initialMs: 20, maxMs: 1_000, factor: 2.5 };

export async function waitForTask(
  client: PveClient,
  deps: RuntimeDeps,
  poll: BackoffPolicy,
  ctx: CallContext,
  upid: string,
  what: string,
  vmid?: number,
): Promise<TaskOutcome> {
  const parsed = parseUpid(upid);
  if (!parsed)
    throw new BackendError("internal", `${what}: Proxmox returned ${JSON.stringify(upid)}, not a task id`, { vmid });
  const path = `/nodes/${encodeURIComponent(parsed.node)}/tasks/${encodeURIComponent(upid)}/status`;
  let transientFailures = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const status = (await client.request(ctx, "GET", path)) as { status?: string; exitstatus?: string };
      transientFailures = 0;
      if (status?.status === "stopped") {
        const exitstatus = String(status.exitstatus ?? "unexpected status");
        if (taskSucceeded(exitstatus)) {
          const warnings = Number(/^WARNINGS: (\d+)$/.exec(exitstatus)?.[1] ?? 0);
          if (warnings > 0)
            deps.log.warn(`${what}: task finished with warnings (treated as success)`, { upid, exitstatus });
          return { upid, exitstatus, warnings };
        }
        const kind = kindOfPveText(exitstatus) ?? "task_failed";
        throw pveError(kind, `${what}: task ${parsed.type} failed`, exitstatus, {
          upid,
          ...(vmid !== undefined ? { vmid } : {}),
        });
      }
    } catch (err) {
      if (!isBackendError(err) || err.details.upid === upid) throw err; // the task's own failure
      // Keep polling through 5xx/59x and lost connections; anything else (401, 400 no such task) is final.
      if (!TRANSIENT.has(err.kind)) throw err;
      transientFailures++;
      deps.log.warn(`${what}: task status poll failed, will retry`, { upid, error: err.message, transientFailures });
    }
    if (!(await sleepWithinDeadline(ctx, deps, poll, attempt))) {
      throw new BackendError("deadline", `${what}: task ${upid} still running at the deadline`, {
        upid,
        ...(vmid !== undefined ? { vmid } : {}),
        hint: "the task keeps running on the node; look at its log (Datacenter → Tasks) or raise the deadline",
      });
    }
  }
}
