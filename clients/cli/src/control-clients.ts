/**
 * Clients for every CLI-facing control service, over control's Unix socket (the default) or a TCP
 * endpoint. One HTTP/2 connection carries all of them.
 */

import { readFileSync } from "node:fs";
import type * as http2 from "node:http2";
import * as net from "node:net";
import {
  EventService,
  JobService,
  ProfileService,
  SandboxService,
  SystemService,
  WorkspaceService,
} from "@agentlab/api";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { UsageError } from "./cli-errors.js";

export interface ControlClients {
  sandboxes: Client<typeof SandboxService>;
  jobs: Client<typeof JobService>;
  workspaces: Client<typeof WorkspaceService>;
  profiles: Client<typeof ProfileService>;
  events: Client<typeof EventService>;
  system: Client<typeof SystemService>;
}

export interface RemoteOptions {
  /** control_auth_token, sent as a bearer token (remote endpoints only). */
  token?: string;
  /** PEM file of the CA (or the certificate itself) that signed control_listen's certificate. */
  caFile?: string;
}

/**
 * `unix:///path`, a bare absolute path, or `https://host:port` (control_listen). A token is never
 * sent in clear text off this host: plain `http://` is accepted for loopback addresses only.
 */
export function createControlTransport(endpoint: string, remote: RemoteOptions = {}): Transport {
  const socketPath = endpoint.startsWith("unix://")
    ? endpoint.slice("unix://".length)
    : endpoint.startsWith("/")
      ? endpoint
      : undefined;
  if (socketPath) {
    return createGrpcTransport({
      baseUrl: "http://localhost",
      nodeOptions: { createConnection: () => net.connect(socketPath) },
    });
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`invalid endpoint ${JSON.stringify(endpoint)}: use a socket path or https://host:port`);
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname) || url.hostname.startsWith("127.");
  if (url.protocol === "http:" && !loopback) {
    throw new UsageError(`refusing plain http to ${url.host}: control_listen off loopback speaks https`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`invalid endpoint ${JSON.stringify(endpoint)}: use a socket path or https://host:port`);
  }
  const interceptors: Interceptor[] = [];
  const token = remote.token;
  if (token) {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    });
  }
  return createGrpcTransport({
    baseUrl: endpoint,
    interceptors,
    ...(remote.caFile ? { nodeOptions: { ca: readFileSync(remote.caFile) } } : {}),
  });
}

export function createControlClients(transport: Transport): ControlClients {
  return {
    sandboxes: createClient(SandboxService, transport),
    jobs: createClient(JobService, transport),
    workspaces: createClient(WorkspaceService, transport),
    profiles: createClient(ProfileService, transport),
    events: createClient(EventService, transport),
    system: createClient(SystemService, transport),
  };
}

/**
 * Receive windows for artifact downloads. HTTP/2 starts every stream and the connection with 64 KiB;
 * the sender then waits a round trip for each WINDOW_UPDATE, which held DownloadArtifact to about
 * 23 MiB/s over the artifacts socket. The stream window bounds what a download can have in flight
 * (and so this process's memory for it); Node consumes the connection window as soon as data
 * arrives, so that one only needs to be at least as large.
 */
const DOWNLOAD_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const DOWNLOAD_SESSION_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * connect-node passes `nodeOptions.settings` to http2.connect(), which raises the stream window,
 * but has no option for the connection window: Node can only raise that on an open session
 * (setLocalWindowSize). This manager does so on each new session, before its first response arrives.
 */
class WideWindowSessionManager extends Http2SessionManager {
  private readonly widened = new WeakSet<http2.Http2Session>();

  override async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(method, path, headers, options);
    const session = stream.session;
    if (session && !this.widened.has(session)) {
      this.widened.add(session);
      session.setLocalWindowSize(DOWNLOAD_SESSION_WINDOW_BYTES);
    }
    return stream;
  }
}

/**
 * The artifacts service's Unix socket (`unix:///path` or a bare path), uncompressed, with receive
 * windows sized for streaming downloads. Other endpoints get the control transport.
 */
export function createArtifactsTransport(endpoint: string): Transport {
  const socketPath = endpoint.startsWith("unix://")
    ? endpoint.slice("unix://".length)
    : endpoint.startsWith("/")
      ? endpoint
      : undefined;
  if (!socketPath) return createControlTransport(endpoint);
  const baseUrl = "http://localhost";
  return createGrpcTransport({
    baseUrl,
    // connect-node offers gzip and brotli by default, and the server then compresses every message:
    // gzip of already-compressed artifacts (tar.gz) cost more CPU than the transfer itself and held
    // downloads near 20 MiB/s. A local socket gains nothing from compression.
    acceptCompression: [],
    sessionManager: new WideWindowSessionManager(baseUrl, undefined, {
      createConnection: () => net.connect(socketPath),
      settings: { initialWindowSize: DOWNLOAD_STREAM_WINDOW_BYTES },
    }),
  });
}
