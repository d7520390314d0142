import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Domain errors: the one vocabulary every service throws. Each carries what failed, the offending
 * value and what to do next, and maps to exactly one Connect code (`toConnectError`) and one HTTP
 * status (`httpStatusFor`), so routes never pick codes themselves.
 */
export interface DomainErrorDetails {
  /** Human-readable sentence: what failed. */
  message: string;
  /** The thing that failed, e.g. `sandbox`, `profile`, `vmid`. */
  what?: string;
  /** The offending value, printed as given. Never put a secret here. */
  value?: unknown;
  /** What the caller can do next. */
  hint?: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: Code;
  readonly what: string | undefined;
  readonly value: unknown;
  readonly hint: string | undefined;

  constructor(details: DomainErrorDetails | string, options?: { cause?: unknown }) {
    const d = typeof details === "string" ? { message: details } : details;
    super(d.message, options);
    this.name = new.target.name;
    this.what = d.what;
    this.value = d.value;
    this.hint = d.hint;
  }

  /** The message as shown to a caller: the sentence, the value and the hint. */
  describe(): string {
    let text = this.message;
    if (this.value !== undefined && !this.message.includes(String(this.value))) {
      text += ` (${this.what ?? "value"}: ${formatValue(this.value)})`;
    }
    if (this.hint) text += `; ${this.hint}`;
    return text;
  }
}

export class NotFoundError extends DomainError {
  readonly code = Code.NotFound;
}
export class AlreadyExistsError extends DomainError {
  readonly code = Code.AlreadyExists;
}
export class InvalidArgumentError extends DomainError {
  readonly code = Code.InvalidArgument;
}
/** The request is valid but the system is not in a state that allows it (e.g. an invalid state transition). */
export class FailedPreconditionError extends DomainError {
  readonly code = Code.FailedPrecondition;
}
/** A concurrent change won; retrying the whole read-modify-write may succeed. */
export class ConflictError extends DomainError {
  readonly code = Code.Aborted;
}
export class PermissionDeniedError extends DomainError {
  readonly code = Code.PermissionDenied;
}
export class UnauthenticatedError extends DomainError {
  readonly code = Code.Unauthenticated;
}
export class ResourceExhaustedError extends DomainError {
  readonly code = Code.ResourceExhausted;
  /** When the caller may retry; becomes `Retry-After` on plain HTTP routes. */
  readonly retryAfterSeconds: number | undefined;
  constructor(details: DomainErrorDetails & { retryAfterSeconds?: number }, options?: { cause?: unknown }) {
    super(details, options);
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}
export class UnavailableError extends DomainError {
  readonly code = Code.Unavailable;
}
export class DeadlineExceededError extends DomainError {
  readonly code = Code.DeadlineExceeded;
}
/** A bug or broken invariant on our side. Its message is logged, never sent to the caller. */
export class InternalError extends DomainError {
  readonly code = Code.Internal;
}

/** What a caller sees for any error we did not anticipate: nothing about its internals. */
export const GENERIC_INTERNAL_MESSAGE = "internal error; the server log has the details";

/**
 * The one mapping from anything thrown to a ConnectError. Domain errors keep their message, value
 * and hint; ConnectErrors pass through; anything else (and InternalError) becomes Internal with a
 * generic message, because raw messages can carry paths, SQL or secrets.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) {
    // An error relayed from a peer carries that peer's response headers as metadata; sent on as
    // HTTP/2 trailers some of them are illegal. Keep the code, the message and the retry-after.
    if ([...err.metadata.keys()].every((key) => key === "retry-after")) return err;
    const metadata = new Headers();
    const retryAfter = err.metadata.get("retry-after");
    if (retryAfter) metadata.set("retry-after", retryAfter);
    return new ConnectError(err.rawMessage, err.code, metadata, undefined, err);
  }
  if (err instanceof InternalError || !(err instanceof DomainError)) {
    return new ConnectError(GENERIC_INTERNAL_MESSAGE, Code.Internal, undefined, undefined, err);
  }
  const metadata = new Headers();
  if (err instanceof ResourceExhaustedError && err.retryAfterSeconds !== undefined) {
    metadata.set("retry-after", String(Math.ceil(err.retryAfterSeconds)));
  }
  return new ConnectError(err.describe(), err.code, metadata, undefined, err);
}

const HTTP_STATUS_BY_CODE: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 409,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** Status and body for a plain HTTP route (POST /upload and friends), from the same mapping. */
export function httpStatusFor(err: unknown): {
  status: number;
  body: { error: string; code: string };
  headers: Record<string, string>;
} {
  const connectError = toConnectError(err);
  const headers: Record<string, string> = {};
  const retryAfter = connectError.metadata.get("retry-after");
  if (retryAfter) headers["retry-after"] = retryAfter;
  return {
    status: HTTP_STATUS_BY_CODE[connectError.code] ?? 500,
    body: { error: connectError.rawMessage, code: connectCodeName(connectError.code) },
    headers,
  };
}

/**
 * Server interceptor: whatever a handler throws leaves as the mapped ConnectError — also when a
 * streaming handler throws half-way through its stream, after the interceptor has returned.
 */
export function createErrorMappingInterceptor(): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStreamErrors(res.message) };
    } catch (err) {
      throw toConnectError(err);
    }
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw toConnectError(err);
  }
}

/** The Connect protocol's spelling of a code: `not_found`, `resource_exhausted`. */
function connectCodeName(code: Code): string {
  return (Code[code] ?? "Internal").replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
