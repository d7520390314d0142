/**
 * The one way a job ends: its final status, failure reason and result written once (compare-and-set,
 * so the guest's report, a cancel, the heartbeat watch and provisioning failures can race), an event,
 * then its sandbox moved to the matching ended state and destroyed unless keepalive (DESIGN §3 step 5).
 *
 * Sandbox end states: COMPLETED, FAILED and TIMEOUT map one to one. A CANCELED job leaves its sandbox
 * FAILED (reason "job canceled: …"): STOPPED would claim the VM was stopped, which it was not, and
 * STOPPED keepalive sandboxes are skipped by prune.
 *
 * Destroys run in the background: the guest that sent the final report lives in that sandbox and must
 * get its reply first. `drain()` waits for them (control shutdown, tests).
 */
import type { Logger } from "@agentlab/core";
import { revokeUploadTokensForJob } from "../artifacts/upload-token-store.js";
import { nowTimestamp } from "../db/timestamps.js";
import { appendEvent } from "../events/event-store.js";
import { errorText } from "../sandboxes/runner-call.js";
import type { SandboxLifecycle } from "../sandboxes/sandbox-lifecycle.js";
import type { SandboxStateName } from "../sandboxes/sandbox-state-machine.js";
import { findSandbox } from "../sandboxes/sandbox-store.js";
import { type SandboxStateContext, transitionSandbox } from "../sandboxes/sandbox-transitions.js";
import { getJob, type JobEnding, type JobRecord, markJobFinished } from "./job-store.js";

export interface JobFinalizerDeps extends SandboxStateContext {
  lifecycle: SandboxLifecycle;
  logger: Logger;
}

export interface JobOutcome extends JobEnding {
  /** Event message, e.g. "agent exited with code 0". */
  message: string;
  /** Extra event payload (no secrets). */
  payload?: Record<string, unknown>;
  /** Destroy the sandbox even when the job asked to keep it (a cancel the guest ignored). */
  forceDestroy?: boolean;
}

const SANDBOX_END: Record<JobEnding["status"], SandboxStateName> = {
  COMPLETED: "COMPLETED",
  FAILED: "FAILED",
  TIMEOUT: "TIMEOUT",
  CANCELED: "FAILED",
};

export class JobFinalizer {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: JobFinalizerDeps) {}

  /** Ends the job; false (and nothing changed) when it was already final. */
  finish(jobId: string, outcome: JobOutcome): boolean {
    const { db, bus, clock } = this.deps;
    const now = nowTimestamp(clock);
    const event = db.transaction(() => {
      if (!markJobFinished(db, jobId, outcome, now)) return undefined;
      const job = getJob(db, jobId);
      return appendEvent(
        db,
        {
          kind: `job.${outcome.status.toLowerCase()}`,
          jobId,
          ...(job.sandboxVmid ? { sandboxVmid: job.sandboxVmid } : {}),
          msg: outcome.message,
          payload: {
            status: outcome.status,
            ...(outcome.failureReason ? { reason: outcome.failureReason } : {}),
            ...outcome.payload,
          },
        },
        clock,
      );
    })();
    if (!event) return false;
    bus.publish(event);
    this.settleSandbox(getJob(db, jobId), { force: outcome.forceDestroy === true });
    return true;
  }

  /**
   * Moves a final job's sandbox to its ended state and destroys it unless keepalive. Also called by
   * the orchestrator when provisioning finishes for a job that ended meanwhile.
   */
  settleSandbox(job: JobRecord, options: { force?: boolean } = {}): void {
    const vmid = job.sandboxVmid;
    if (!vmid) return;
    const sandbox = findSandbox(this.deps.db, vmid);
    if (!sandbox || sandbox.state === "DESTROYED") return;
    // A job canceled before its guest ran has nothing worth keeping.
    const destroy = options.force === true || !job.keepalive || (job.status === "CANCELED" && !job.startedAt);
    if (this.deps.lifecycle.isProvisioning(vmid)) {
      // Destroy aborts the provisioning; otherwise the orchestrator settles it once provisioning ends.
      if (destroy) this.destroyInBackground(job, vmid);
      return;
    }
    const target = SANDBOX_END[job.status as JobEnding["status"]] ?? "FAILED";
    const why = job.failureReason ? `: ${job.failureReason}` : "";
    const moveOptions = {
      jobId: job.id,
      ...(target === "COMPLETED" ? {} : { reason: `job ${job.status.toLowerCase()}${why}` }),
    };
    try {
      let state = sandbox.state;
      // READY cannot go straight to COMPLETED: the guest reported before the orchestrator marked it RUNNING.
      if (state === "READY" && target === "COMPLETED") {
        transitionSandbox(this.deps, vmid, "READY", "RUNNING", { jobId: job.id });
        state = "RUNNING";
      }
      if (state === "READY" || state === "RUNNING") transitionSandbox(this.deps, vmid, state, target, moveOptions);
    } catch (err) {
      // Another writer (lease expiry, a user's destroy) moved it first; it is ending either way.
      this.deps.logger.info(
        { vmid, job: job.id, err: errorText(err) },
        "sandbox moved by someone else while its job ended",
      );
    }
    if (destroy) this.destroyInBackground(job, vmid);
  }

  private destroyInBackground(job: JobRecord, vmid: number): void {
    const { lifecycle, logger, db, clock } = this.deps;
    const task = (async () => {
      try {
        await lifecycle.destroy({ vmid }, { reason: `job ${job.id} ended ${job.status}` });
        revokeUploadTokensForJob(db, job.id, clock());
      } catch (err) {
        // Left in its ended state: lease expiry and prune destroy it later.
        logger.warn({ vmid, job: job.id, err: errorText(err) }, "could not destroy the sandbox of an ended job");
      }
    })();
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }

  /** Waits for every destroy started so far. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
