import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";

/** Header carrying the request id between the CLI, services and guests. */
export const REQUEST_ID_HEADER = "x-request-id";

/** What is known about the request being served, wherever the code runs. */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** A caller's id is kept only if it is short and printable; anything else is replaced. */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `fn` as part of the request `requestId` (background work started by a request, tests). */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

export interface RequestContextInterceptorOptions {
  logger: Logger;
  /** Mints ids for requests that arrive without one. */
  newRequestId?: () => string;
  /** Monotonic milliseconds, for call durations. */
  now?: () => number;
}

/**
 * Server interceptor: takes the caller's request id (or mints one), makes it current for the
 * handler, echoes it in the response header, and logs each call with its method, code and duration.
 */
export function createRequestContextInterceptor(options: RequestContextInterceptorOptions): Interceptor {
  const newRequestId = options.newRequestId ?? randomUUID;
  const now = options.now ?? (() => performance.now());
  return (next) => async (req) => {
    const offered = req.header.get(REQUEST_ID_HEADER);
    const requestId = offered && ACCEPTABLE_REQUEST_ID.test(offered) ? offered : newRequestId();
    const method = `/${req.service.typeName}/${req.method.name}`;
    const started = now();
    return storage.run({ requestId }, async () => {
      try {
        const res = await next(req);
        res.header.set(REQUEST_ID_HEADER, requestId);
        options.logger.info({ method, code: "ok", duration_ms: elapsed(started, now) }, "rpc");
        return res;
      } catch (err) {
        const connectError = ConnectError.from(err);
        const level = connectError.code === Code.Internal || connectError.code === Code.Unknown ? "error" : "info";
        options.logger[level](
          {
            method,
            code: Code[connectError.code],
            duration_ms: elapsed(started, now),
            err: connectError.cause instanceof Error ? connectError.cause : connectError,
          },
          "rpc",
        );
        connectError.metadata.set(REQUEST_ID_HEADER, requestId);
        throw connectError;
      }
    });
  };
}

/** Client interceptor: calls made while serving a request carry its id to the peer service. */
export function createRequestIdForwardingInterceptor(): Interceptor {
  return (next) => async (req) => {
    const requestId = currentRequestId();
    if (requestId && !req.header.has(REQUEST_ID_HEADER)) req.header.set(REQUEST_ID_HEADER, requestId);
    return next(req);
  };
}

function elapsed(started: number, now: () => number): number {
  return Math.round((now() - started) * 1000) / 1000;
}
