import { connect as netConnect } from "node:net";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GuestError } from "./guest-error.js";

/** Builds a transport for one endpoint; injected so a test can substitute its own. */
export type TransportFactory = (endpoint: string) => Transport;

/** Unary calls that take longer than this are treated as failed (and retried). */
const CALL_TIMEOUT_MS = 30_000;

/**
 * A gRPC (HTTP/2) transport for a Connect base URL: `http://host:port` (cleartext HTTP/2),
 * `https://host:port`, or `unix:///path/to/socket` — local sandboxes get control's and artifacts'
 * sockets mounted in, and HTTP/2 over a Unix socket needs its own connection factory.
 */
export const createGuestTransport: TransportFactory = (endpoint) => {
  if (endpoint.startsWith("unix://")) {
    const socketPath = endpoint.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new GuestError(
        `endpoint ${JSON.stringify(endpoint)} has a relative socket path`,
        "write it as unix:///absolute/path.sock",
      );
    }
    return createGrpcTransport({
      // Only sets :authority; the connection itself goes to the socket.
      baseUrl: "http://localhost",
      defaultTimeoutMs: CALL_TIMEOUT_MS,
      nodeOptions: { createConnection: () => netConnect(socketPath) },
    });
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new GuestError(
      `endpoint ${JSON.stringify(endpoint)} is not a URL`,
      "use http://host:port, https://host:port or unix:///path",
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new GuestError(
      `endpoint ${JSON.stringify(endpoint)} has unsupported scheme ${url.protocol}`,
      "use http://host:port, https://host:port or unix:///path",
    );
  }
  return createGrpcTransport({ baseUrl: endpoint.replace(/\/+$/, ""), defaultTimeoutMs: CALL_TIMEOUT_MS });
};
