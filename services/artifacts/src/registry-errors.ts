import { ConnectError } from "@connectrpc/connect";

/**
 * Re-throws an error from control's registry as a fresh ConnectError with the same code and a
 * message saying which call failed. The original's metadata is dropped on purpose: it holds the
 * peer's response headers (connection, keep-alive, content-type), which are illegal or misleading
 * as this server's gRPC trailers — HTTP/2 clients reject the stream as a protocol error.
 */
export function registryError(call: string, err: unknown, suffix = ""): ConnectError {
  const cause = ConnectError.from(err);
  return new ConnectError(`control ${call}: ${cause.rawMessage}${suffix}`, cause.code, undefined, undefined, err);
}

/** Awaits a registry call, translating its failure with registryError. */
export async function callRegistry<T>(call: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw registryError(call, err);
  }
}
