import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GuestJobStatus, type JobSpec } from "@agentlab/api";
import { agentEnvironment, resolveAgentCommand } from "./agent-command.js";
import { type AgentProcess, startAgentProcess } from "./agent-process.js";
import type { ControlChannel } from "./control-channel.js";
import type { GuestContext } from "./guest-context.js";
import type { StopSignal } from "./guest-stop.js";
import type { JobOutcome } from "./job-report.js";
import type { LogStreamer } from "./log-streamer.js";
import type { SecretRedactor } from "./secret-redactor.js";

export interface AgentRunInput {
  ctx: GuestContext;
  job: JobSpec;
  channel: ControlChannel;
  streamer: LogStreamer;
  redactor: SecretRedactor;
  secretsEnv: Record<string, string>;
  gitEnv: Record<string, string>;
  /** Told about the agent once it runs, so a forced exit can tell why it was being stopped. */
  onStarted?: (agent: AgentProcess) => void;
}

/** The final message of a job whose agent a cancel stopped. */
export const AGENT_CANCELED_MESSAGE = "agent stopped: the job was canceled";

/** The final message of a job whose agent the guest runner's own stop ended. */
export function stoppedWhileAgentRan(signal: StopSignal): string {
  return `guest runner stopped by ${signal} while the agent was running`;
}

/** Minutes to milliseconds, with a sane floor for a job submitted without a TTL. */
function ttlMs(ctx: GuestContext, job: JobSpec): number {
  if (ctx.tuning.agentTtlMs !== undefined) return ctx.tuning.agentTtlMs;
  const minutes = job.ttlMinutes > 0 ? job.ttlMinutes : 60;
  return minutes * 60_000;
}

/**
 * Runs the agent to its end: TTL, cancel or its own exit. Its output goes through one redactor per
 * stream (a secret split across two reads is still caught) into the log streamer.
 */
export async function runAgent(input: AgentRunInput): Promise<Omit<JobOutcome, "startCommit" | "finalCommit">> {
  const { ctx, job, channel, streamer } = input;
  const repoDir = ctx.settings.repoDir;
  const command = await resolveAgentCommand(job, repoDir);
  const taskFile = join(ctx.settings.jobDir, "task.txt");
  await writeFile(taskFile, job.task, { mode: 0o600 });
  const env = agentEnvironment({
    base: ctx.env,
    secrets: input.secretsEnv,
    git: input.gitEnv,
    job,
    repoDir,
    taskFile,
  });
  const redactors = { stdout: input.redactor.stream(), stderr: input.redactor.stream() };
  const limitMs = ttlMs(ctx, job);
  const killGraceMs = ctx.tuning.killGraceMs ?? ctx.settings.killGraceSeconds * 1000;
  streamer.system(`agent starting: ${input.redactor.redact(command)}`);
  await channel.reportRunning("agent starting");
  const startedMs = ctx.now();
  const agent = startAgentProcess({
    command,
    cwd: repoDir,
    env,
    stdin: job.task,
    spawn: ctx.spawn,
    ttlMs: limitMs,
    killGraceMs,
    onOutput: (stream, text) => streamer.write(stream, redactors[stream].push(text)),
  });
  input.onStarted?.(agent);
  // A cancel and the guest runner's own stop take the same road; whichever comes first is reported.
  channel.onCancel(() => {
    streamer.system("cancel requested: stopping the agent");
    agent.stop("canceled");
  });
  const { stop } = ctx;
  const offStop = stop.onStop((signal) => {
    streamer.system(`guest runner received ${signal}: stopping the agent, then uploading artifacts and reporting`);
    agent.stop("signal");
  });
  const offForce = stop.onForce(() => agent.kill());
  let result: Awaited<typeof agent.result>;
  try {
    result = await agent.result;
  } finally {
    offStop();
    offForce();
  }
  for (const stream of ["stdout", "stderr"] as const) streamer.write(stream, redactors[stream].end());
  const durationSeconds = (ctx.now() - startedMs) / 1000;
  if (result.stoppedBy === "timeout") {
    const message = `agent timed out after ${Math.round(limitMs / 1000)} s (job TTL) and was killed`;
    streamer.system(message);
    return { status: GuestJobStatus.TIMEOUT, exitCode: -1, durationSeconds, message };
  }
  if (result.stoppedBy === "canceled") {
    const message = AGENT_CANCELED_MESSAGE;
    streamer.system(message);
    return { status: GuestJobStatus.CANCELED, exitCode: result.exitCode ?? -1, durationSeconds, message };
  }
  // Whatever stops the guest may signal the agent directly too (a local sandbox's stop signals every
  // process in it; so did the unit's old KillMode=control-group), so it can be gone before the
  // runner's own stop reached it: a failure during a stop is the stop's doing.
  const exitCode = result.exitCode ?? -1;
  if (stop.signal && (result.stoppedBy === "signal" || exitCode !== 0)) {
    const message = stoppedWhileAgentRan(stop.signal);
    streamer.system(message);
    return { status: GuestJobStatus.FAILED, exitCode, durationSeconds, message };
  }
  const message =
    result.exitCode === null ? `agent was killed by ${result.signal}` : `agent exited with code ${result.exitCode}`;
  streamer.system(message);
  return {
    status: exitCode === 0 ? GuestJobStatus.COMPLETED : GuestJobStatus.FAILED,
    exitCode,
    durationSeconds,
    message,
  };
}
