import type { BootstrapFile } from "./bootstrap-file.js";
import type { Spawner } from "./git-command.js";
import type { GuestSettings } from "./guest-settings.js";
import type { GuestStop } from "./guest-stop.js";
import type { TransportFactory } from "./guest-transport.js";
import type { RetryPolicy, Sleep } from "./retry-policy.js";

/** Knobs with production defaults; tests shrink the waits. */
export interface GuestTuning {
  bootstrapRetry: RetryPolicy;
  reportRetry: RetryPolicy;
  uploadRetry: RetryPolicy;
  /** Uploads and the last log flush once the guest runner was told to stop: it has little time. */
  stoppingRetry: RetryPolicy;
  /**
   * After the first stop signal, the guest gives its job the agent's kill grace plus this long to
   * upload and report; then it forces its exit, keeping the final report for the next start.
   */
  stopWindDownMs: number;
  /** How often buffered output is sent to control. */
  logFlushIntervalMs: number;
  /** Overrides the job's ttl_minutes (tests use milliseconds). */
  agentTtlMs?: number;
  /** Overrides AGENTLAB_KILL_GRACE_SECONDS. */
  killGraceMs?: number;
  /** Overrides the payload's heartbeat_interval_seconds. */
  heartbeatIntervalMs?: number;
}

/** The guest's dependencies: everything a test may replace. */
export interface GuestDeps {
  env: NodeJS.ProcessEnv;
  spawn: Spawner;
  createTransport: TransportFactory;
  sleep: Sleep;
  now: () => number;
  /** The runner's own log (journald through stderr). */
  log: (line: string) => void;
  tuning: GuestTuning;
  /** SIGTERM/SIGINT as main.ts receives them; tests stop the guest through it. */
  stop: GuestStop;
}

/** What a job run knows before it starts. */
export interface GuestContext extends GuestDeps {
  settings: GuestSettings;
  bootstrap: BootstrapFile;
}
