import * as net from "node:net";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createRequestIdForwardingInterceptor } from "./request-context.js";

export interface PeerTransportOptions {
  /** `grpc` (HTTP/2 only) or `connect` (HTTP/1.1 or HTTP/2). */
  protocol: "grpc" | "connect";
  /** For `connect`; default "2" (one multiplexed connection). gRPC always uses HTTP/2. */
  httpVersion?: "1.1" | "2";
  /** Run after the request-id forwarding interceptor (e.g. one adding internal_token). */
  interceptors?: Interceptor[];
}

/** A parsed peer endpoint: a Unix socket path or an http(s) base URL. */
export type PeerEndpoint = { socketPath: string } | { baseUrl: string };

export function parsePeerEndpoint(endpoint: string): PeerEndpoint {
  if (endpoint.startsWith("unix://")) {
    const socketPath = endpoint.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new Error(`peer endpoint ${endpoint} must name an absolute socket path: unix:///run/agentlab/runner.sock`);
    }
    return { socketPath };
  }
  if (/^https?:\/\/[^/\s]+/.test(endpoint)) return { baseUrl: endpoint.replace(/\/+$/, "") };
  throw new Error(`peer endpoint ${JSON.stringify(endpoint)} is neither unix:///path nor http(s)://host:port`);
}

/**
 * A transport to another AgentLab process over TCP or a Unix socket. Calls made while serving a
 * request forward its request id. Over a Unix socket the URL only fills in :authority.
 */
export function createPeerTransport(endpoint: string, options: PeerTransportOptions): Transport {
  const parsed = parsePeerEndpoint(endpoint);
  const httpVersion = options.httpVersion ?? "2";
  if (options.protocol === "grpc" && httpVersion !== "2") {
    throw new Error("gRPC needs HTTP/2; use protocol connect for HTTP/1.1");
  }
  const interceptors = [createRequestIdForwardingInterceptor(), ...(options.interceptors ?? [])];
  const baseUrl = "baseUrl" in parsed ? parsed.baseUrl : "http://localhost";
  const socketPath = "socketPath" in parsed ? parsed.socketPath : undefined;
  if (options.protocol === "grpc") {
    return createGrpcTransport({
      baseUrl,
      interceptors,
      ...(socketPath !== undefined && { nodeOptions: { createConnection: () => net.connect(socketPath) } }),
    });
  }
  if (httpVersion === "1.1") {
    return createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      interceptors,
      ...(socketPath !== undefined && { nodeOptions: { socketPath } }),
    });
  }
  return createConnectTransport({
    baseUrl,
    httpVersion: "2",
    interceptors,
    ...(socketPath !== undefined && { nodeOptions: { createConnection: () => net.connect(socketPath) } }),
  });
}
