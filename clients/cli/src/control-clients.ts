/**
 * Clients for every CLI-facing control service, over control's Unix socket (the default) or a TCP
 * endpoint. One HTTP/2 connection carries all of them.
 */

import { readFileSync } from "node:fs";
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
import { createGrpcTransport } from "@connectrpc/connect-node";
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
