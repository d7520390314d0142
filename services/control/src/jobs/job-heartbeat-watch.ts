/**
 * Finds RUNNING jobs nobody is working on any more (DESIGN §3 step 5):
 * - the guest went quiet: its sandbox is READY/RUNNING and its last sign of life (FetchBootstrap,
 *   ReportStatus, AppendLogs — or the moment the sandbox became ready, when the guest never called)
 *   is older than guest_heartbeat_timeout → job FAILED "guest lost: no heartbeat for Ns", sandbox
 *   FAILED, destroyed unless keepalive;
 * - the sandbox ended under the job (lease expiry, the reconciler, a user's destroy) → job FAILED
 *   with the sandbox's reason.
 * Legacy jobs (see legacy-jobs.ts) are exempt from the first rule: the original guest sends no
 * heartbeats between "agent starting" and its final report.
 */
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, parseTimestamp } from "../db/timestamps.js";
import type { SandboxLifecycle } from "../sandboxes/sandbox-lifecycle.js";
import { ENDED_STATES } from "../sandboxes/sandbox-state-machine.js";
import { findSandbox } from "../sandboxes/sandbox-store.js";
import type { JobFinalizer } from "./job-finalizer.js";
import { listJobsInStatus } from "./job-store.js";
import { isLegacyJob } from "./legacy-jobs.js";

export interface JobHeartbeatWatchDeps {
  db: SqliteDatabase;
  clock: Clock;
  lifecycle: SandboxLifecycle;
  finalizer: JobFinalizer;
  heartbeatTimeoutMs: number;
  /** True while this process is starting the job (its sandbox may be FAILED before the orchestrator says why). */
  isStarting?: (jobId: string) => boolean;
}

export class JobHeartbeatWatch {
  constructor(private readonly deps: JobHeartbeatWatchDeps) {}

  /** One pass; returns the ids of the jobs it ended. */
  runOnce(): string[] {
    const { db, clock, lifecycle, finalizer } = this.deps;
    const now = clock().getTime();
    const ended: string[] = [];
    for (const job of listJobsInStatus(db, ["RUNNING"])) {
      if (job.sandboxVmid === null || this.deps.isStarting?.(job.id)) continue;
      if (lifecycle.isProvisioning(job.sandboxVmid)) continue;
      const sandbox = findSandbox(db, job.sandboxVmid);
      if (!sandbox) continue;
      if (sandbox.state === "DESTROYED" || ENDED_STATES.includes(sandbox.state)) {
        const why = sandbox.terminationReason ? `: ${sandbox.terminationReason}` : "";
        const reason = `sandbox ${sandbox.vmid} ended (${sandbox.state}${why}) before the job finished`;
        if (finalizer.finish(job.id, { status: "FAILED", failureReason: reason, resultJson: null, message: reason })) {
          ended.push(job.id);
        }
        continue;
      }
      if (sandbox.state !== "READY" && sandbox.state !== "RUNNING") continue;
      if (isLegacyJob(db, job)) continue;
      const since = job.lastHeartbeatAt ?? String(sandbox.meta.stateEnteredAt ?? sandbox.updatedAt);
      const quietMs = now - parseTimestamp(since).getTime();
      if (quietMs <= this.deps.heartbeatTimeoutMs) continue;
      const reason = `guest lost: no heartbeat for ${Math.round(quietMs / 1000)}s`;
      if (finalizer.finish(job.id, { status: "FAILED", failureReason: reason, resultJson: null, message: reason })) {
        ended.push(job.id);
      }
    }
    return ended;
  }
}
