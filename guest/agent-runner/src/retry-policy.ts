import { Code, ConnectError } from "@connectrpc/connect";

/** How often and how patiently to retry a call to control or artifacts. */
export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number;
  /** Delay after the first failure; doubles after each further failure. */
  initialDelayMs: number;
  /** Upper bound of the delay. */
  maxDelayMs: number;
}

/** Waits; injected so tests do not wait for real. */
export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The original guest's bootstrap schedule: 2 s doubling to 30 s, ten tries (reference §6.1). */
export const BOOTSTRAP_RETRY: RetryPolicy = { attempts: 10, initialDelayMs: 2_000, maxDelayMs: 30_000 };
/** Reports and log batches: 1 s doubling to 30 s, six tries. */
export const REPORT_RETRY: RetryPolicy = { attempts: 6, initialDelayMs: 1_000, maxDelayMs: 30_000 };
/** Uploads are big; a few tries are enough before giving up on them. */
export const UPLOAD_RETRY: RetryPolicy = { attempts: 4, initialDelayMs: 2_000, maxDelayMs: 30_000 };

/**
 * Uploads and the last log flush after a stop signal: one retry a second later. The machine is going
 * away; the final report, which keeps REPORT_RETRY, matters more than another upload attempt.
 */
export const STOPPING_RETRY: RetryPolicy = { attempts: 2, initialDelayMs: 1_000, maxDelayMs: 1_000 };

/** The delay before attempt `attempt + 1`, after `attempt` failures (1-based). */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
}

// Codes that say "try again later": the server or the path to it had a bad moment. Everything else
// (a bad token, a missing job, a refused argument) will not change by asking again.
const TRANSIENT_CODES = new Set<Code>([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
  Code.Canceled,
]);

/** Whether a failed call is worth retrying. Errors that are not Connect errors are network errors. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ConnectError) return TRANSIENT_CODES.has(err.code);
  return true;
}

export interface RetryOptions {
  sleep: Sleep;
  /** Defaults to isTransient. */
  retryable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to log the failure. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, a non-retryable error occurs, or the attempts are spent. */
export async function withRetry<T>(
  policy: RetryPolicy,
  options: RetryOptions,
  fn: (attempt: number) => Promise<T>,
): Promise<T> {
  const retryable = options.retryable ?? isTransient;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !retryable(err)) throw err;
      const delayMs = backoffDelay(policy, attempt);
      options.onRetry?.(err, attempt, delayMs);
      await options.sleep(delayMs);
    }
  }
}
