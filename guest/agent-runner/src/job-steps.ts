import { join } from "node:path";
import { type FetchBootstrapResponse, type GuestArtifact, GuestJobStatus, type JobSpec } from "@agentlab/api";
import { runAgent, stoppedWhileAgentRan } from "./agent-run.js";
import { collectAndUpload, LOG_NAME } from "./artifact-bundle.js";
import type { ControlChannel, StatusReport } from "./control-channel.js";
import { createGitRunner, type GitRunnerOptions } from "./git-command.js";
import { installGitCredentials } from "./git-credentials.js";
import type { GuestContext } from "./guest-context.js";
import { errorMessage } from "./guest-error.js";
import type { StopSignal } from "./guest-stop.js";
import { startHeartbeat } from "./heartbeat.js";
import { createChannel, deliverFinalReport, firstLogSeq } from "./job-channel.js";
import type { JobOutcome } from "./job-report.js";
import { type JobProgress, stoppedBeforeAgent } from "./job-stop.js";
import { LogStreamer } from "./log-streamer.js";
import { writePendingFinalReport } from "./pending-final-report.js";
import { ensurePrivateDir } from "./private-files.js";
import { checkoutRepo } from "./repo-checkout.js";
import type { SecretRedactor } from "./secret-redactor.js";

/** Used when the payload leaves log_stream_max_bytes at 0. */
export const DEFAULT_LOG_STREAM_MAX_BYTES = 1024 * 1024;
/** Used when the payload leaves heartbeat_interval_seconds at 0. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

export interface JobStepsResult {
  outcome: JobOutcome;
  /** The final report, delivered or not. */
  finalReport: StatusReport;
  delivered: boolean;
}

/**
 * One job's way from its payload to the final report: clone, agent, artifacts, report. A stop signal
 * (ctx.stop) on the way stops the agent like a cancel does and carries on to the artifacts and the
 * report; before the agent ran, it abandons the clone and goes straight to the report.
 */
export class JobSteps {
  private readonly job: JobSpec;
  private readonly log: (line: string) => void;
  private readonly gitEnv: Record<string, string> = { GIT_TERMINAL_PROMPT: "0" };
  private readonly gitOptions: GitRunnerOptions;
  private readonly cloneAbort = new AbortController();
  private agentStarted = false;
  /** The phase a stop signal found the job in; unset while none came. */
  private stoppedIn: string | undefined;
  /** True once the outcome's message names the stop. */
  private stopNoted = false;

  private constructor(
    private readonly ctx: GuestContext,
    private readonly payload: FetchBootstrapResponse,
    private readonly progress: JobProgress,
    private readonly redactor: SecretRedactor,
    private readonly channel: ControlChannel,
    private readonly streamer: LogStreamer,
  ) {
    this.job = payload.job as JobSpec;
    this.log = (line) => ctx.log(redactor.redact(line));
    // Reads gitEnv when each command starts, so the credentials installed later are used.
    this.gitOptions = {
      spawn: ctx.spawn,
      env: ctx.env,
      extraEnv: () => this.gitEnv,
      redact: (t) => redactor.redact(t),
    };
  }

  static async open(
    ctx: GuestContext,
    payload: FetchBootstrapResponse,
    restarted: boolean,
    progress: JobProgress,
    redactor: SecretRedactor,
  ): Promise<JobSteps> {
    const log = (line: string) => ctx.log(redactor.redact(line));
    const channel = createChannel(ctx, payload, redactor);
    progress.cancelRequested = () => channel.cancelRequested;
    await ensurePrivateDir(ctx.settings.jobDir);
    const streamer = new LogStreamer({
      logFile: join(ctx.settings.jobDir, LOG_NAME),
      send: (entries) => channel.appendLogs(entries),
      maxStreamBytes: payload.logStreamMaxBytes > 0n ? Number(payload.logStreamMaxBytes) : DEFAULT_LOG_STREAM_MAX_BYTES,
      firstSeq: await firstLogSeq(channel, restarted, log),
      flushIntervalMs: ctx.tuning.logFlushIntervalMs,
      now: ctx.now,
      sleep: ctx.sleep,
      log,
    });
    return new JobSteps(ctx, payload, progress, redactor, channel, streamer);
  }

  /** The runner's own line: in its log and in the job's `system` stream. */
  private system(line: string): void {
    this.log(line);
    this.streamer.system(this.redactor.redact(line));
  }

  private get stopping(): StopSignal | undefined {
    return this.ctx.stop.signal;
  }

  async run(restarted: boolean): Promise<JobStepsResult> {
    const { ctx, payload, progress } = this;
    const heartbeatMs =
      ctx.tuning.heartbeatIntervalMs ?? (payload.heartbeatIntervalSeconds || DEFAULT_HEARTBEAT_SECONDS) * 1000;
    const stopHeartbeat = startHeartbeat(this.channel, heartbeatMs, () => progress.phase);
    const offStop = ctx.stop.onStop((signal) => {
      this.stoppedIn = progress.phase;
      this.system(`guest runner received ${signal} (${progress.phase})`);
      if (!this.agentStarted) this.cloneAbort.abort();
    });
    try {
      this.system(`job ${this.job.id}: ${restarted ? "resumed from the cached payload" : "bootstrap fetched"}`);
      await this.channel.reportRunning(progress.phase);
      await this.cloneAndRunAgent();
      progress.outcomeFinal = true;
      const artifacts = await this.collectArtifacts();
      return await this.report(artifacts, stopHeartbeat);
    } finally {
      offStop();
      stopHeartbeat();
    }
  }

  /** When a stop came before the agent started, settles the outcome and says so. */
  private stoppedBeforeAgent(): boolean {
    const signal = this.stopping;
    if (!signal || this.agentStarted) return false;
    const { outcome } = this.progress;
    this.stopNoted = true;
    // A cancel control had already asked for keeps its status.
    if (this.channel.cancelRequested) {
      Object.assign(outcome, { status: GuestJobStatus.CANCELED, message: "canceled before the agent started" });
    } else {
      Object.assign(outcome, {
        status: GuestJobStatus.FAILED,
        message: stoppedBeforeAgent(signal, this.progress.phase),
      });
    }
    this.system(outcome.message);
    return true;
  }

  private async cloneAndRunAgent(): Promise<void> {
    const { ctx, job, payload, progress, channel } = this;
    const { outcome } = progress;
    const { settings } = ctx;
    try {
      Object.assign(this.gitEnv, await installGitCredentials(settings.secretsDir, payload.git));
      if (this.stoppedBeforeAgent()) return;
      progress.phase = "cloning the repository";
      const checkout = await checkoutRepo({
        repoDir: settings.repoDir,
        repoUrl: job.repoUrl,
        ref: job.ref,
        depth: settings.gitDepth,
        git: createGitRunner({ ...this.gitOptions, signal: this.cloneAbort.signal }),
        log: (line) => this.system(line),
      });
      outcome.startCommit = checkout.startCommit;
      outcome.finalCommit = checkout.startCommit;
      progress.phase = "repo ready";
      this.system(`repo ready at ${checkout.startCommit} in ${settings.repoDir}`);
      await channel.reportRunning(`repo ready at ${checkout.startCommit}`);
      if (channel.cancelRequested) {
        Object.assign(outcome, { status: GuestJobStatus.CANCELED, message: "canceled before the agent started" });
        return;
      }
      if (this.stoppedBeforeAgent()) return;
      this.agentStarted = true;
      progress.phase = "agent running";
      const result = await runAgent({
        ctx,
        job,
        channel,
        streamer: this.streamer,
        redactor: this.redactor,
        secretsEnv: payload.env,
        gitEnv: this.gitEnv,
        onStarted: (agent) => {
          progress.agent = agent;
        },
      });
      Object.assign(outcome, result);
      this.stopNoted = this.stopping !== undefined && result.message === stoppedWhileAgentRan(this.stopping);
    } catch (err) {
      // A clone abandoned for a stop fails with git's error; the stop is the story to tell.
      if (this.stoppedBeforeAgent()) return;
      outcome.message = errorMessage(err);
      this.system(outcome.message);
    }
  }

  /** The patch, report.json and the bundle, uploaded; short retries when stopping, none without an agent. */
  private async collectArtifacts(): Promise<GuestArtifact[]> {
    const { ctx, payload, progress } = this;
    progress.phase = "uploading artifacts";
    if (this.stopping && !this.agentStarted) {
      this.system("no agent ran: no artifacts to upload");
      return [];
    }
    const uploadCtx = this.stopping
      ? { ...ctx, tuning: { ...ctx.tuning, uploadRetry: ctx.tuning.stoppingRetry } }
      : ctx;
    try {
      const target = payload.upload && {
        endpoint: ctx.bootstrap.artifacts || payload.upload.endpoint,
        token: payload.upload.token,
        maxBytes: payload.upload.maxBytes,
      };
      return await collectAndUpload({
        ctx: uploadCtx,
        job: this.job,
        outcome: progress.outcome,
        git: createGitRunner(this.gitOptions),
        streamer: this.streamer,
        upload: target,
      });
    } catch (err) {
      this.system(`collecting artifacts failed: ${errorMessage(err)}`);
      progress.outcome.message += "; artifacts could not be collected";
      return [];
    }
  }

  private async report(artifacts: GuestArtifact[], stopHeartbeat: () => void): Promise<JobStepsResult> {
    const { ctx, progress } = this;
    const { outcome } = progress;
    // A stop that did not decide the outcome (the agent had ended, or a cancel or the TTL was already
    // stopping it) leaves the status alone, but the report says it happened.
    if (this.stopping && !this.stopNoted) {
      outcome.message += `${outcome.message ? "; " : ""}guest runner stopped by ${this.stopping} (${this.stoppedIn})`;
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
    progress.finalReport = finalReport;
    progress.phase = "reporting";
    await this.streamer.close(this.stopping ? ctx.tuning.stoppingRetry : ctx.tuning.reportRetry);
    stopHeartbeat();
    // systemd's SIGKILL at TimeoutStopSec comes without warning: keep the report first, so that the
    // next start resends it even if this delivery is cut short.
    if (this.stopping) {
      await writePendingFinalReport(ctx.settings.runDir, finalReport).catch((err: unknown) =>
        this.log(`could not keep the final report before sending it: ${errorMessage(err)}`),
      );
    }
    const delivered = await deliverFinalReport(ctx, this.channel, finalReport, this.log);
    return { outcome, finalReport, delivered };
  }
}
