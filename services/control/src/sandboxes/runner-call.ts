/** Helpers for calling runners: deadlines as per-call timeouts, and reading their error codes. */
import { Code, ConnectError } from "@connectrpc/connect";

/** Call options for a runner RPC that must finish by `deadline` (epoch ms). */
export function untilDeadline(deadline: number, now: number, signal?: AbortSignal) {
  return { timeoutMs: Math.max(1, deadline - now), ...(signal ? { signal } : {}) };
}

export function connectCode(err: unknown): Code | undefined {
  return err instanceof ConnectError ? err.code : undefined;
}

/** The runner answered that the VM does not exist: it is gone (not: the runner could not be asked). */
export const isVmGone = (err: unknown) => connectCode(err) === Code.NotFound;
export const isVmidTaken = (err: unknown) => connectCode(err) === Code.AlreadyExists;
/** The runner or its hypervisor could not be reached: nothing may be concluded about the VM. */
export const isUnreachable = (err: unknown) =>
  connectCode(err) === Code.Unavailable || connectCode(err) === Code.DeadlineExceeded || !(err instanceof ConnectError);

export function errorText(err: unknown): string {
  if (err instanceof ConnectError) return err.rawMessage;
  return err instanceof Error ? err.message : String(err);
}
