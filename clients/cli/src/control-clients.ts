/**
 * Clients for every CLI-facing control service, over control's Unix socket (the default) or a TCP
 * endpoint. One HTTP/2 connection carries all of them.
 */

import * as net from "node:net";
import {
  EventService,
  JobService,
  ProfileService,
  SandboxService,
  SystemService,
  WorkspaceService,
} from "@agentlab/api";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

export interface ControlClients {
  sandboxes: Client<typeof SandboxService>;
  jobs: Client<typeof JobService>;
  workspaces: Client<typeof WorkspaceService>;
  profiles: Client<typeof ProfileService>;
  events: Client<typeof EventService>;
  system: Client<typeof SystemService>;
}

/** `unix:///path`, a bare absolute path, or `http(s)://host:port`. */
export function createControlTransport(endpoint: string): Transport {
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
  return createGrpcTransport({ baseUrl: endpoint });
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
