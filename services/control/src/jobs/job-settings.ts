/** The config values jobs and the guest API depend on, taken from AgentLabConfig once at start. */
import type { AgentLabConfig } from "@agentlab/core";

export interface JobSettings {
  /** A RUNNING job whose guest sends nothing for this long fails as "guest lost" (ms). */
  heartbeatTimeoutMs: number;
  /** After CancelJob, how long the guest has to stop before its sandbox is destroyed (ms). */
  cancelGraceMs: number;
  /** Added to the job TTL for the sandbox lease and the report token (ms). */
  uploadGraceMs: number;
  /** Log bytes kept per job in job_logs. */
  logMaxBytes: number;
  /** Upload token lifetime (ms). */
  artifactTokenTtlMs: number;
  /** Largest artifact upload, bytes (told to the guest). */
  artifactMaxBytes: number;
  /** artifact_upload_url: the original's POST /upload URL, e.g. http://10.77.0.1:8846/upload. */
  artifactUploadUrl: string;
  /** Directory of secrets bundles. */
  secretsDir: string;
}

export function jobSettingsFromConfig(config: AgentLabConfig): JobSettings {
  return {
    heartbeatTimeoutMs: config.guest_heartbeat_timeout,
    cancelGraceMs: config.job_cancel_grace,
    uploadGraceMs: config.job_upload_grace,
    logMaxBytes: config.job_log_max_bytes,
    artifactTokenTtlMs: config.artifact_token_ttl_minutes * 60_000,
    artifactMaxBytes: config.artifact_max_bytes,
    artifactUploadUrl: config.artifact_upload_url,
    secretsDir: config.secrets_dir,
  };
}

/** A job needs a time limit for its agent; the guest uses the same figure when none is given. */
export const DEFAULT_JOB_TTL_MINUTES = 60;
/** RunJob's TTL range: a week at most. */
export const MAX_JOB_TTL_MINUTES = 10_080;

/** Whole minutes, rounded up: a lease shorter than the grace would cut an upload short. */
export function ceilMinutes(ms: number): number {
  return Math.ceil(ms / 60_000);
}

/** Human form of a duration for reasons and messages: "120s", "2m". */
export function formatSeconds(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds % 60 === 0 && seconds >= 60 ? `${seconds / 60}m` : `${seconds}s`;
}
