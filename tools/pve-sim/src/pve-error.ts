import { paramVerificationFailed } from "./pve-messages.js";

/**
 * An error as a PVE handler raises it: a Perl `die` becomes HTTP 500 with the message as reason
 * phrase, a schema failure becomes 400 with an `errors` map (reference/proxmox.md §1.3).
 */
export class PveError extends Error {
  readonly status: number;
  readonly errors: Record<string, string> | undefined;

  constructor(status: number, message: string, errors?: Record<string, string>) {
    super(message);
    this.name = "PveError";
    this.status = status;
    this.errors = errors;
  }
}

/** A handler `die`: HTTP 500 with `message` (reference §1.3). */
export function pveDie(message: string): PveError {
  return new PveError(500, message);
}

/** A parameter verification failure: HTTP 400 with one message per offending parameter. */
export function paramError(errors: Record<string, string>): PveError {
  return new PveError(400, paramVerificationFailed, errors);
}

/** Any thrown value as a PveError (unexpected bugs become 500 with their text). */
export function asPveError(err: unknown): PveError {
  if (err instanceof PveError) return err;
  return pveDie(err instanceof Error ? err.message : String(err));
}
