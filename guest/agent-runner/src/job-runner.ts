import { type FetchBootstrapResponse, GuestJobStatus } from "@agentlab/api";
import type { GuestContext } from "./guest-context.js";
import { redactorFor } from "./job-channel.js";
import { JobSteps, type JobStepsResult } from "./job-steps.js";
import { forcedReport, type JobProgress, keepForcedReport, windDownMs } from "./job-stop.js";

export interface JobRunResult extends JobStepsResult {
  /** Why the guest exited at once (a second signal, the stop deadline); the report was kept, not sent. */
  forced?: string;
}

/**
 * Runs the job of a payload end to end and delivers the final report (see JobSteps). Once a stop
 * signal came, the wind-down is bounded: a second signal, or the agent's kill grace plus
 * STOP_WIND_DOWN_MS, forces an exit at once, with the agent's group killed (by runAgent) and the
 * report kept in the run directory for the next start to resend.
 */
export async function runJob(
  ctx: GuestContext,
  payload: FetchBootstrapResponse,
  restarted: boolean,
): Promise<JobRunResult> {
  const redactor = redactorFor(payload, ctx.bootstrap.token);
  const log = (line: string) => ctx.log(redactor.redact(line));
  const progress: JobProgress = {
    phase: "bootstrap fetched",
    outcome: {
      status: GuestJobStatus.FAILED,
      exitCode: -1,
      durationSeconds: 0,
      startCommit: "",
      finalCommit: "",
      message: "",
    },
    outcomeFinal: false,
    agent: undefined,
    cancelRequested: () => false,
    finalReport: undefined,
  };
  let deadline: NodeJS.Timeout | undefined;
  const offDeadline = ctx.stop.onStop((signal) => {
    const ms = windDownMs(ctx);
    deadline = setTimeout(() => ctx.stop.force(`the stop deadline (${Math.round(ms / 1000)} s after ${signal})`), ms);
  });
  let offForce = () => {};
  const forced = new Promise<JobRunResult>((resolve) => {
    // runAgent's own force listener has already SIGKILLed the agent's group, if it was running.
    offForce = ctx.stop.onForce((reason) => {
      log(`exiting at once on ${reason}`);
      const report = forcedReport(progress, ctx.stop.signal ?? "SIGTERM", reason);
      void keepForcedReport(ctx, report, log).then(() =>
        resolve({ outcome: progress.outcome, finalReport: report, delivered: false, forced: reason }),
      );
    });
  });
  try {
    const steps = JobSteps.open(ctx, payload, restarted, progress, redactor).then((s) => s.run(restarted));
    // Once a forced exit wins the race, whatever the abandoned steps end with is nobody's business.
    steps.catch(() => {});
    return await Promise.race([steps, forced]);
  } finally {
    offForce();
    offDeadline();
    clearTimeout(deadline);
  }
}
