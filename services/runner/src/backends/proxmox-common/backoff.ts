import type { CallContext } from "../../backend.js";
import { BackendError, type BackendErrorKind, isBackendError } from "../../backend-errors.js";
import type { RuntimeDeps } from "./runtime-deps.js";

/** Exponential back-off with full jitter on the upper half, capped, bounded by the call's deadline. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** §1.4: poll tasks at 0.5 s, backing off to 5 s. The same shape serves lock retries (§3). */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 5_000, factor: 2 };

export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** attempt);
  return Math.round(base / 2 + (base / 2) * random());
}

/** Throws kind `deadline` when the call's deadline has passed or its signal aborted. */
export function checkDeadline(ctx: CallContext, deps: RuntimeDeps, what: string): void {
  if (ctx.signal?.aborted) throw new BackendError("deadline", `${what}: the caller cancelled the call`);
  if (deps.now() >= ctx.deadline) {
    throw new BackendError("deadline", `${what}: deadline passed before it finished`, {
      hint: "raise the step's deadline in control, or look at the task log on the node for what was slow",
    });
  }
}

/** Sleeps for the back-off delay, but never past the deadline; returns false if no time is left. */
export async function sleepWithinDeadline(
  ctx: CallContext,
  deps: RuntimeDeps,
  policy: BackoffPolicy,
  attempt: number,
): Promise<boolean> {
  const left = ctx.deadline - deps.now();
  if (left <= 0) return false;
  const delay = Math.min(left, backoffDelay(policy, attempt, deps.random));
  try {
    await deps.sleep(delay, ctx.signal);
  } catch {
    return false;
  }
  return deps.now() < ctx.deadline;
}

/**
 * Runs `fn` again while it fails with one of `kinds`, with jittered back-off, until the deadline.
 * The last error is rethrown unchanged (its kind and Proxmox text are what the operator needs).
 */
export async function retryOnKinds<T>(
  ctx: CallContext,
  deps: RuntimeDeps,
  policy: BackoffPolicy,
  kinds: readonly BackendErrorKind[],
  fn: (attempt: number) => Promise<T>,
  maxAttempts = Number.POSITIVE_INFINITY,
): Promise<T> {
  let lastRetryable: BackendError | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      // An attempt cut short by the deadline says less than the failure that made us retry.
      if (lastRetryable && isBackendError(err, "deadline")) throw lastRetryable;
      const retryable = isBackendError(err) && kinds.includes(err.kind);
      if (!retryable || attempt + 1 >= maxAttempts) throw err;
      lastRetryable = err as BackendError;
      if (!(await sleepWithinDeadline(ctx, deps, policy, attempt))) throw err;
    }
  }
}
