import { GuestJobStatus } from "@agentlab/api";
import type { AgentProcess } from "./agent-process.js";
import { AGENT_CANCELED_MESSAGE, stoppedWhileAgentRan } from "./agent-run.js";
import type { StatusReport } from "./control-channel.js";
import type { GuestContext } from "./guest-context.js";
import { errorMessage } from "./guest-error.js";
import type { StopSignal } from "./guest-stop.js";
import type { JobOutcome } from "./job-report.js";
import { writePendingFinalReport } from "./pending-final-report.js";

/**
 * After the first stop signal the job gets the agent's kill grace plus this long to upload and report
 * before the guest forces its exit. deploy/guest/agentlab-guest.service's TimeoutStopSec= is sized
 * from it (a test checks the two agree).
 */
export const STOP_WIND_DOWN_MS = 60_000;

/** How long a forced exit may spend keeping the final report before it exits regardless. */
export const FORCED_EXIT_MS = 2_000;

/** The final message of a job stopped before its agent started (bootstrap, clone). */
export function stoppedBeforeAgent(signal: StopSignal, phase: string): string {
  return `guest runner stopped by ${signal} before the agent started (${phase})`;
}

/** The wind-down: the agent's grace to stop, then time for the artifacts and the final report. */
export function windDownMs(ctx: GuestContext): number {
  const graceMs = ctx.tuning.killGraceMs ?? ctx.settings.killGraceSeconds * 1000;
  return graceMs + ctx.tuning.stopWindDownMs;
}

/** What a job knows of itself at any moment, for a report made in a hurry. */
export interface JobProgress {
  /** What the job is doing, for the heartbeat and for messages ("cloning the repository"). */
  phase: string;
  outcome: JobOutcome;
  /** Set once the agent's result is in the outcome (or it was never to run). */
  outcomeFinal: boolean;
  /** The agent once it runs: why it is being stopped decides a forced report's status. */
  agent: AgentProcess | undefined;
  /** Channel state: a cancel control asked for keeps its status. */
  cancelRequested: () => boolean;
  /** The report being delivered, once it was made. */
  finalReport: StatusReport | undefined;
}

/**
 * The report of a job whose guest exits at once (a second signal, the wind-down deadline): the
 * report being delivered if there is one, else the outcome so far, with the agent's pending stop
 * resolved the way the agent's result would have been (the first stop reason wins).
 */
export function forcedReport(progress: JobProgress, signal: StopSignal, reason: string): StatusReport {
  const note = `the guest runner exited at once on ${reason}`;
  if (progress.finalReport) {
    return { ...progress.finalReport, message: `${progress.finalReport.message}; ${note}` };
  }
  const { outcome } = progress;
  let { status, message } = outcome;
  if (!progress.outcomeFinal) {
    const stoppedBy = progress.agent?.stoppedBy;
    if (stoppedBy === "timeout") {
      status = GuestJobStatus.TIMEOUT;
      message = "agent timed out (job TTL) and was killed";
    } else if (stoppedBy === "canceled" || (stoppedBy === undefined && progress.cancelRequested())) {
      status = GuestJobStatus.CANCELED;
      message = AGENT_CANCELED_MESSAGE;
    } else {
      status = GuestJobStatus.FAILED;
      message = progress.agent ? stoppedWhileAgentRan(signal) : stoppedBeforeAgent(signal, progress.phase);
    }
  }
  return {
    status,
    message: `${message ? `${message}; ` : ""}${note}; artifacts may be missing`,
    exitCode: outcome.exitCode,
    durationSeconds: outcome.durationSeconds,
    startCommit: outcome.startCommit,
    finalCommit: outcome.finalCommit,
    artifacts: [],
  };
}

/**
 * Keeps the forced report where the next start of the guest finds it and only resends it (so the
 * agent never runs twice), bounded: a hung disk must not keep a forced exit from happening.
 */
export async function keepForcedReport(ctx: GuestContext, report: StatusReport, log: (line: string) => void) {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log(`keeping the final report took over ${FORCED_EXIT_MS} ms; exiting without it`);
      resolve();
    }, FORCED_EXIT_MS);
  });
  const kept = writePendingFinalReport(ctx.settings.runDir, report).then(
    () => log("final report kept in the run directory; the next start of the guest resends it"),
    (err: unknown) => log(`could not keep the final report: ${errorMessage(err)}`),
  );
  await Promise.race([kept, gaveUp]);
  clearTimeout(timer);
}
