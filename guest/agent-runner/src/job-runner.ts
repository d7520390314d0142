import { join } from "node:path";
import { type FetchBootstrapResponse, GuestJobStatus, type JobSpec } from "@agentlab/api";
import { runAgent } from "./agent-run.js";
import { collectAndUpload, LOG_NAME } from "./artifact-bundle.js";
import { ControlChannel, type StatusReport } from "./control-channel.js";
import { createGitRunner } from "./git-command.js";
import { installGitCredentials } from "./git-credentials.js";
import type { GuestContext } from "./guest-context.js";
import { errorMessage } from "./guest-error.js";
import { startHeartbeat } from "./heartbeat.js";
import type { JobOutcome } from "./job-report.js";
import { LogStreamer } from "./log-streamer.js";
import { clearPendingFinalReport, writePendingFinalReport } from "./pending-final-report.js";
import { ensurePrivateDir } from "./private-files.js";
import { checkoutRepo } from "./repo-checkout.js";
import { SecretRedactor } from "./secret-redactor.js";

/** Used when the payload leaves log_stream_max_bytes at 0. */
export const DEFAULT_LOG_STREAM_MAX_BYTES = 1024 * 1024;
/** Used when the payload leaves heartbeat_interval_seconds at 0. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

/** Every secret the guest knows of: none of them may leave the sandbox in a log or report. */
export function redactorFor(payload: FetchBootstrapResponse, bootstrapToken: string): SecretRedactor {
  return new SecretRedactor([
    ...Object.values(payload.env),
    payload.git?.token,
    payload.git?.sshPrivateKey,
    payload.reportToken,
    payload.upload?.token,
    bootstrapToken,
  ]);
}

export function createChannel(ctx: GuestContext, payload: FetchBootstrapResponse, redactor: SecretRedactor) {
  return new ControlChannel({
    controller: ctx.bootstrap.controller,
    jobId: payload.job?.id ?? "",
    vmid: ctx.bootstrap.vmid,
    reportToken: payload.reportToken,
    createTransport: ctx.createTransport,
    sleep: ctx.sleep,
    now: ctx.now,
    log: (line) => ctx.log(redactor.redact(line)),
    redact: (text) => redactor.redact(text),
  });
}

/**
 * After a restart, control may already hold log entries from the previous run; numbering from 1
 * again would make control drop the new lines as repeats. An empty AppendLogs tells us where to go on.
 */
async function firstLogSeq(channel: ControlChannel, restarted: boolean, log: (line: string) => void): Promise<bigint> {
  if (!restarted) return 1n;
  try {
    return (await channel.appendLogs([])).storedSeq + 1n;
  } catch (err) {
    log(`could not ask control for the stored log position (${errorMessage(err)}); numbering from 1`);
    return 1n;
  }
}

export interface JobRunResult {
  outcome: JobOutcome;
  /** The final report, delivered or not. */
  finalReport: StatusReport;
  delivered: boolean;
}

/** Runs the job of a payload end to end and delivers the final report. */
export async function runJob(
  ctx: GuestContext,
  payload: FetchBootstrapResponse,
  restarted: boolean,
): Promise<JobRunResult> {
  const job = payload.job as JobSpec;
  const { settings } = ctx;
  const redactor = redactorFor(payload, ctx.bootstrap.token);
  const log = (line: string) => ctx.log(redactor.redact(line));
  const channel = createChannel(ctx, payload, redactor);
  await ensurePrivateDir(settings.jobDir);
  const streamer = new LogStreamer({
    logFile: join(settings.jobDir, LOG_NAME),
    send: (entries) => channel.appendLogs(entries),
    maxStreamBytes: payload.logStreamMaxBytes > 0n ? Number(payload.logStreamMaxBytes) : DEFAULT_LOG_STREAM_MAX_BYTES,
    firstSeq: await firstLogSeq(channel, restarted, log),
    flushIntervalMs: ctx.tuning.logFlushIntervalMs,
    now: ctx.now,
    sleep: ctx.sleep,
    log,
  });
  const system = (line: string) => {
    log(line);
    streamer.system(redactor.redact(line));
  };
  let phase = "bootstrap fetched";
  const heartbeatMs =
    ctx.tuning.heartbeatIntervalMs ?? (payload.heartbeatIntervalSeconds || DEFAULT_HEARTBEAT_SECONDS) * 1000;
  const stopHeartbeat = startHeartbeat(channel, heartbeatMs, () => phase);
  system(`job ${job.id}: ${restarted ? "resumed from the cached payload" : "bootstrap fetched"}`);
  await channel.reportRunning(phase);

  const outcome: JobOutcome = {
    status: GuestJobStatus.FAILED,
    exitCode: -1,
    durationSeconds: 0,
    startCommit: "",
    finalCommit: "",
    message: "",
  };
  const gitEnv: Record<string, string> = { GIT_TERMINAL_PROMPT: "0" };
  // Reads gitEnv when each command starts, so the credentials installed below are used.
  const git = createGitRunner({
    spawn: ctx.spawn,
    env: ctx.env,
    extraEnv: () => gitEnv,
    redact: (t) => redactor.redact(t),
  });
  try {
    Object.assign(gitEnv, await installGitCredentials(settings.secretsDir, payload.git));
    phase = "cloning the repository";
    const checkout = await checkoutRepo({
      repoDir: settings.repoDir,
      repoUrl: job.repoUrl,
      ref: job.ref,
      depth: settings.gitDepth,
      git,
      log: system,
    });
    outcome.startCommit = checkout.startCommit;
    outcome.finalCommit = checkout.startCommit;
    phase = "repo ready";
    system(`repo ready at ${checkout.startCommit} in ${settings.repoDir}`);
    await channel.reportRunning(`repo ready at ${checkout.startCommit}`);
    if (channel.cancelRequested) {
      Object.assign(outcome, { status: GuestJobStatus.CANCELED, message: "canceled before the agent started" });
    } else {
      phase = "agent running";
      Object.assign(
        outcome,
        await runAgent({ ctx, job, channel, streamer, redactor, secretsEnv: payload.env, gitEnv }),
      );
    }
  } catch (err) {
    outcome.message = errorMessage(err);
    system(outcome.message);
  }

  phase = "uploading artifacts";
  let artifacts: Awaited<ReturnType<typeof collectAndUpload>> = [];
  try {
    const target = payload.upload && {
      endpoint: ctx.bootstrap.artifacts || payload.upload.endpoint,
      token: payload.upload.token,
      maxBytes: payload.upload.maxBytes,
    };
    artifacts = await collectAndUpload({ ctx, job, outcome, git, streamer, upload: target });
  } catch (err) {
    system(`collecting artifacts failed: ${errorMessage(err)}`);
    outcome.message += "; artifacts could not be collected";
  }

  const finalReport: StatusReport = {
    status: outcome.status,
    message: outcome.message,
    exitCode: outcome.exitCode,
    durationSeconds: outcome.durationSeconds,
    startCommit: outcome.startCommit,
    finalCommit: outcome.finalCommit,
    artifacts,
  };
  await streamer.close(ctx.tuning.reportRetry);
  stopHeartbeat();
  const delivered = await deliverFinalReport(ctx, channel, finalReport, log);
  return { outcome, finalReport, delivered };
}

/** Sends the final report; when even retries fail, keeps it so the next start only resends it. */
export async function deliverFinalReport(
  ctx: GuestContext,
  channel: ControlChannel,
  report: StatusReport,
  log: (line: string) => void,
): Promise<boolean> {
  try {
    await channel.reportFinal(report, ctx.tuning.reportRetry);
    await clearPendingFinalReport(ctx.settings.runDir);
    return true;
  } catch (err) {
    log(`final ReportStatus could not be delivered: ${errorMessage(err)}; it will be resent when the guest restarts`);
    await writePendingFinalReport(ctx.settings.runDir, report);
    return false;
  }
}
