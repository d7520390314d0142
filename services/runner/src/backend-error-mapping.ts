import {
  AlreadyExistsError,
  ConflictError,
  DeadlineExceededError,
  DomainError,
  type DomainErrorDetails,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
} from "@agentlab/core";
import { Code } from "@connectrpc/connect";
import { BackendError, type BackendErrorKind } from "./backend-errors.js";

/**
 * A hypervisor task failed, or the backend met something it did not expect. Core's InternalError
 * hides its message behind a generic one; this one keeps it, because the hypervisor's own text
 * (`clone failed: storage 'local-zfs' does not exist`) is what the operator needs. Backend messages
 * never carry secrets (backend-errors.ts), so it is safe to pass on.
 */
export class HypervisorError extends DomainError {
  readonly code = Code.Internal;
}

type DomainErrorClass = new (details: DomainErrorDetails, options?: { cause?: unknown }) => DomainError;

/** The one table from backend failure kinds to domain errors (and so to Connect codes). */
export const BACKEND_ERROR_CLASSES: Readonly<Record<BackendErrorKind, DomainErrorClass>> = {
  not_found: NotFoundError,
  already_exists: AlreadyExistsError,
  locked: ConflictError,
  lock_timeout: ConflictError,
  not_owned: PermissionDeniedError,
  invalid_argument: InvalidArgumentError,
  auth: UnauthenticatedError,
  tls: UnavailableError,
  unreachable: UnavailableError,
  unavailable: UnavailableError,
  deadline: DeadlineExceededError,
  task_failed: HypervisorError,
  internal: HypervisorError,
};

/** Extra advice per kind when the backend gave none, so a caller knows what to do next. */
const DEFAULT_HINTS: Partial<Record<BackendErrorKind, string>> = {
  already_exists: "the VMID is taken: allocate another",
  locked: "the VM is locked by another operation: retry later",
  lock_timeout: "the hypervisor's lock is busy: retry later",
};

/**
 * Turns a BackendError into the domain error core's interceptor maps to a Connect code; anything
 * else is returned as is (core turns unknown errors into a generic INTERNAL).
 */
export function toDomainError(err: unknown): unknown {
  if (!(err instanceof BackendError)) return err;
  const ErrorClass = BACKEND_ERROR_CLASSES[err.kind] ?? HypervisorError;
  const hint = err.details.hint ?? DEFAULT_HINTS[err.kind];
  return new ErrorClass(
    {
      message: err.message,
      ...(err.details.vmid !== undefined && { what: "vmid", value: err.details.vmid }),
      ...(hint !== undefined && { hint }),
    },
    { cause: err },
  );
}
