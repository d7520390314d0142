import type { ArtifactRegistryService } from "@agentlab/api";
import { GuestGuard } from "@agentlab/core/guest-guard";
import { type ListenEndpoint, type Listener, listen } from "@agentlab/core/listener";
import type { Logger } from "@agentlab/core/logger";
import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import { serveMetrics } from "@agentlab/core/metrics/metrics-server";
import type { Client } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import { ArtifactStore } from "./artifact-store.js";
import type { ArtifactsDeps, GuestArtifactsDeps } from "./artifacts-deps.js";
import { httpUploadRoute } from "./http-upload-route.js";
import { createUploadMetrics } from "./metrics/upload-metrics.js";
import { artifactRoutes, guestArtifactRoutes } from "./routes.js";
import { sweepTempFiles } from "./temp-sweeper.js";

/** One upload message: a 1 MiB chunk (the contract's maximum) plus framing. */
export const UPLOAD_MESSAGE_MAX_BYTES = 1024 * 1024 + 64 * 1024;
/**
 * HTTP/2 receive window per upload stream. What a client sends ahead of the handler piles up in the
 * request stream, and connect-node reads it as one concatenated copy, so the window bounds what one
 * upload holds here. In the artifacts bench (gRPC row, 3-5 runs each) peak RSS averaged 132 MiB at
 * the listener's 4 MiB default and 127-128 MiB at 2 MiB and 1 MiB, while throughput was 227, 216
 * and 188 MiB/s: 2 MiB keeps the memory and most of the speed. HTTP/2's 64 KiB default stalls uploads.
 */
export const UPLOAD_STREAM_WINDOW_BYTES = 2 * 1024 * 1024;

export interface ArtifactsServerOptions {
  artifactDir: string;
  /** artifacts_socket: every RPC, for the CLI and control. */
  socketPath: string;
  socketGroup?: string;
  /** artifact_listen: UploadArtifact and POST /upload for guests; omit to serve the socket only. */
  guestListen?: { host: string; port: number };
  /** artifacts_guest_socket: the same guest routes on a Unix socket mounted into local sandboxes. */
  guestSocketPath?: string;
  agentSubnet: string;
  maxBytes: number;
  rateLimit: { qps: number; burst: number };
  registry: Client<typeof ArtifactRegistryService>;
  logger: Logger;
  now?: () => number;
  /** A registry shared with other services in this process (agentlabd), which serves it. */
  metrics?: Registry;
  /** metrics_listen: without `metrics`, this service serves its own /metrics there. */
  metricsListen?: string;
}

export interface ArtifactsServer {
  socketPath: string;
  /** `host:port` of the guest listener, when started. */
  guestAddress: string | undefined;
  guestPort: number | undefined;
  close(): Promise<void>;
}

/**
 * Sweeps leftover temp files, then serves both listeners. The sweep comes first so that no temp
 * file of a live upload can be mistaken for debris.
 */
export async function startArtifactsServer(options: ArtifactsServerOptions): Promise<ArtifactsServer> {
  const store = await ArtifactStore.open({ root: options.artifactDir });
  const swept = await sweepTempFiles(store.root);
  if (swept.length > 0) options.logger.warn({ files: swept }, "removed temp files of interrupted uploads");
  const metrics = options.metrics ?? (options.metricsListen ? createMetricsRegistry("artifacts") : undefined);
  const deps: ArtifactsDeps = { registry: options.registry, store, maxBytes: options.maxBytes, logger: options.logger };
  if (metrics) deps.uploadMetrics = createUploadMetrics(metrics);
  // Every listener takes uploads: the same message cap and per-stream window on each.
  const uploadListenerOptions = {
    maxBodyBytes: UPLOAD_MESSAGE_MAX_BYTES,
    http2StreamWindowBytes: UPLOAD_STREAM_WINDOW_BYTES,
    logger: options.logger,
  };
  const socket = await listen({
    endpoint: {
      unix: { path: options.socketPath, ...(options.socketGroup !== undefined && { group: options.socketGroup }) },
    },
    connectRoutes: artifactRoutes(deps),
    ...uploadListenerOptions,
  });
  const listenForGuests = (endpoint: ListenEndpoint, localSocket: boolean): Promise<Listener> => {
    const guestDeps: GuestArtifactsDeps = {
      ...deps,
      guard: new GuestGuard({
        agentSubnet: options.agentSubnet,
        qps: options.rateLimit.qps,
        burst: options.rateLimit.burst,
        localSocket,
        ...(options.now && { now: options.now }),
      }),
    };
    return listen({
      endpoint,
      connectRoutes: guestArtifactRoutes(guestDeps),
      httpRoutes: httpUploadRoute(guestDeps),
      ...uploadListenerOptions,
    });
  };
  const guestListeners: Listener[] = [];
  let metricsListener: Listener | undefined;
  try {
    // Guests get uploads only (UploadArtifact and POST /upload): downloads and deletes are never
    // routed here, so no token can read another job's files through these listeners.
    if (options.guestListen) {
      guestListeners.push(await listenForGuests({ tcp: options.guestListen }, false));
    }
    if (options.guestSocketPath) {
      // Mounted into local sandboxes, whose unprivileged uid must be able to connect.
      guestListeners.push(await listenForGuests({ unix: { path: options.guestSocketPath, mode: 0o666 } }, true));
    }
    if (metrics && !options.metrics && options.metricsListen) {
      metricsListener = await serveMetrics({
        listen: options.metricsListen,
        registry: metrics,
        logger: options.logger,
      });
    }
  } catch (err) {
    await Promise.all([socket.close(), ...guestListeners.map((l) => l.close())]);
    throw err;
  }
  const guest = options.guestListen ? guestListeners[0] : undefined;
  options.logger.info({ socket: socket.address, guest: guest?.address, artifact_dir: store.root }, "artifacts serving");
  return {
    socketPath: socket.address,
    guestAddress: guest?.address,
    guestPort: guest?.port,
    async close() {
      await Promise.all([socket.close(), ...guestListeners.map((l) => l.close()), metricsListener?.close()]);
    },
  };
}
