/**
 * CancelJob and the cancel watch. A queued job, or one whose guest has not started (its sandbox is
 * still provisioning), ends CANCELED at once. A running guest is asked to stop through the
 * `cancel_requested` flag of its next ReportStatus/AppendLogs reply and reports CANCELED itself; if it
 * has not within job_cancel_grace, the watch ends the job CANCELED and destroys the sandbox, keepalive
 * or not (a guest that ignores a cancel cannot be trusted with what it leaves behind).
 */
import { FailedPreconditionError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, formatTimestamp, nowTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { appendEvent } from "../events/event-store.js";
import { findSandbox } from "../sandboxes/sandbox-store.js";
import type { JobFinalizer } from "./job-finalizer.js";
import { formatSeconds } from "./job-settings.js";
import { getJob, isFinalStatus, type JobRecord, listJobsInStatus, markCancelRequested } from "./job-store.js";

export const DEFAULT_CANCEL_REASON = "canceled by user";

export interface JobCancelDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  finalizer: JobFinalizer;
  cancelGraceMs: number;
}

export function cancelJob(deps: JobCancelDeps, jobId: string, reasonText = ""): JobRecord {
  const { db, bus, clock, finalizer } = deps;
  const reason = reasonText.trim() || DEFAULT_CANCEL_REASON;
  const job = getJob(db, jobId);
  if (isFinalStatus(job.status)) {
    throw new FailedPreconditionError({
      message: `job ${jobId} already ended ${job.status}`,
      what: "job",
      value: jobId,
      hint: "only QUEUED and RUNNING jobs can be canceled",
    });
  }
  const sandbox = job.sandboxVmid ? findSandbox(db, job.sandboxVmid) : undefined;
  const guestMayRun = sandbox !== undefined && (sandbox.state === "READY" || sandbox.state === "RUNNING");
  if (job.status === "QUEUED" || !guestMayRun) {
    const ended = finalizer.finish(jobId, {
      status: "CANCELED",
      failureReason: reason,
      resultJson: null,
      message:
        job.status === "QUEUED" ? `canceled before it started: ${reason}` : `canceled while provisioning: ${reason}`,
    });
    // Lost the race to another ending (the orchestrator failed it): say so rather than pretend.
    if (!ended) return cancelJob(deps, jobId, reason);
    return getJob(db, jobId);
  }
  const now = nowTimestamp(clock);
  const event = db.transaction(() => {
    if (!markCancelRequested(db, jobId, reason, now)) return undefined;
    return appendEvent(
      db,
      {
        kind: "job.cancel_requested",
        jobId,
        ...(job.sandboxVmid ? { sandboxVmid: job.sandboxVmid } : {}),
        msg: `cancel requested: ${reason}; the guest is told on its next call`,
        payload: { reason, grace_seconds: Math.round(deps.cancelGraceMs / 1000) },
      },
      clock,
    );
  })();
  if (!event) return cancelJob(deps, jobId, reason);
  bus.publish(event);
  return getJob(db, jobId);
}

/** The cancel watch: call `runOnce()` from a periodic loop. */
export class JobCancelWatch {
  constructor(private readonly deps: JobCancelDeps) {}

  /** Ends the jobs whose guest ignored a cancel for longer than the grace; returns their ids. */
  runOnce(): string[] {
    const cutoff = formatTimestamp(new Date(this.deps.clock().getTime() - this.deps.cancelGraceMs));
    const ended: string[] = [];
    for (const job of listJobsInStatus(this.deps.db, ["RUNNING"])) {
      if (job.cancelRequestedAt === null || job.cancelRequestedAt > cutoff) continue;
      const why = `guest did not stop within ${formatSeconds(this.deps.cancelGraceMs)}`;
      const done = this.deps.finalizer.finish(job.id, {
        status: "CANCELED",
        failureReason: `${job.failureReason ?? DEFAULT_CANCEL_REASON}; ${why}`,
        resultJson: null,
        message: `canceled: ${why}; destroying its sandbox`,
        forceDestroy: true,
      });
      if (done) ended.push(job.id);
    }
    return ended;
  }
}
