/**
 * An error the guest can explain: what failed and what the operator should do about it. The message
 * goes into the runner's log and, redacted, into the final status report, so it must stand alone.
 */
export class GuestError extends Error {
  override readonly name = "GuestError";

  constructor(
    /** What failed, with the offending value. */
    what: string,
    /** What to do next. */
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(hint ? `${what}; ${hint}` : what, options);
  }
}

/** The message of anything thrown, for logs and reports. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
