/**
 * What a guest's status report does to its job, for the new GuestService and the original's
 * /v1/runner/report alike: RUNNING is a heartbeat with a `job.report` event (and moves a READY
 * sandbox to RUNNING); a final status ends the job through the finalizer. A report for a job that
 * already ended is FAILED_PRECONDITION "job already finalized" (the original's 409).
 */
import { FailedPreconditionError, redactSecrets } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, nowTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { appendEvent } from "../events/event-store.js";
import type { JobFinalizer } from "../jobs/job-finalizer.js";
import { encodeJobResult } from "../jobs/job-result.js";
import { getJob, isFinalStatus, type JobEnding, type JobRecord, recordHeartbeat } from "../jobs/job-store.js";
import { findSandbox } from "../sandboxes/sandbox-store.js";
import { transitionSandbox } from "../sandboxes/sandbox-transitions.js";

export interface GuestReportDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  finalizer: JobFinalizer;
}

export type ReportedStatus = "RUNNING" | JobEnding["status"];

export interface GuestReport {
  status: ReportedStatus;
  message: string;
  exitCode?: number;
  durationSeconds?: number;
  startCommit?: string;
  finalCommit?: string;
  /** For the original's reports: the free-form result JSON to store as it was. */
  legacyResultJson?: string;
}

function alreadyFinal(job: JobRecord): FailedPreconditionError {
  return new FailedPreconditionError({
    message: `job already finalized (${job.status})`,
    what: "job",
    value: job.id,
    hint: "the final report was already delivered; the guest can stop",
  });
}

function failureReason(job: JobRecord, report: GuestReport, message: string): string | null {
  switch (report.status) {
    case "COMPLETED":
      return null;
    case "FAILED":
      return message || `agent exited with code ${report.exitCode ?? -1}`;
    case "TIMEOUT":
      return message || `agent ran past its TTL of ${job.ttlMinutes ?? 0} minutes`;
    default:
      // The guest stopped because of a cancel: the reason is the one the user gave.
      return job.failureReason || message || "canceled";
  }
}

/** Applies a report; returns the job as it is afterwards. `secrets` are redacted from the message. */
export function applyGuestReport(
  deps: GuestReportDeps,
  jobId: string,
  vmid: number,
  report: GuestReport,
  secrets: readonly string[],
): JobRecord {
  const { db, bus, clock } = deps;
  const job = getJob(db, jobId);
  if (isFinalStatus(job.status)) throw alreadyFinal(job);
  const message = redactSecrets(report.message, secrets).trim();
  const now = nowTimestamp(clock);
  if (report.status === "RUNNING") {
    const event = db.transaction(() => {
      recordHeartbeat(db, jobId, now);
      return appendEvent(
        db,
        { kind: "job.report", jobId, sandboxVmid: vmid, msg: message || "running", payload: { status: "RUNNING" } },
        clock,
      );
    })();
    bus.publish(event);
    const sandbox = findSandbox(db, vmid);
    if (sandbox?.state === "READY") {
      try {
        transitionSandbox(deps, vmid, "READY", "RUNNING", { jobId });
      } catch {
        // The orchestrator moved it at the same moment.
      }
    }
    return getJob(db, jobId);
  }
  recordHeartbeat(db, jobId, now);
  const resultJson =
    report.legacyResultJson ??
    encodeJobResult({
      status: report.status,
      exitCode: report.exitCode ?? -1,
      durationSeconds: report.durationSeconds ?? 0,
      startCommit: report.startCommit ?? "",
      finalCommit: report.finalCommit ?? "",
      message,
      reportedAt: now,
    });
  const ended = deps.finalizer.finish(jobId, {
    status: report.status,
    failureReason: failureReason(job, report, message),
    resultJson,
    message: message || `guest reported ${report.status}`,
    payload: {
      ...(report.exitCode !== undefined ? { exit_code: report.exitCode } : {}),
      ...(report.durationSeconds !== undefined ? { duration_seconds: report.durationSeconds } : {}),
    },
  });
  const after = getJob(db, jobId);
  if (!ended) throw alreadyFinal(after);
  return after;
}
