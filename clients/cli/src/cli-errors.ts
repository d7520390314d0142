/**
 * Exit codes (kept from the original): 0 success, 1 the request or command failed, 2 usage error.
 * Errors print to stderr as one line; with JSON or YAML output they also print to stdout as
 * `{"error": {"code", "message"}}` so scripts can parse them.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad flags or arguments: exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A command that ran but whose outcome is a failure (e.g. a job that FAILED): exit 1, message already printed. */
export class OutcomeFailure extends Error {
  override readonly name = "OutcomeFailure";
  constructor(readonly exitCode = EXIT_FAILURE) {
    super("outcome failure");
  }
}

export interface DescribedError {
  code: string;
  message: string;
  exitCode: number;
}

export function describeError(err: unknown, endpoint: string): DescribedError {
  if (err instanceof UsageError) return { code: "usage", message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof ConnectError) {
    const code = Code[err.code] ?? "unknown";
    let message = err.rawMessage;
    // A missing or refused socket surfaces as UNAVAILABLE or INTERNAL depending on the transport.
    if (/ENOENT|ECONNREFUSED|EACCES|ECONNRESET|EPIPE/.test(err.message)) {
      message = `cannot reach agentlab control at ${endpoint}: ${err.rawMessage}. Is agentlabd running? Set --socket or AGENTLAB_SOCKET to its socket.`;
    }
    return { code: snake(code), message, exitCode: EXIT_FAILURE };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "failed", message, exitCode: EXIT_FAILURE };
}

function snake(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
