import type { ArtifactRegistryService } from "@agentlab/api";
import { listen } from "@agentlab/core/listener";
import type { Logger } from "@agentlab/core/logger";
import type { Client } from "@connectrpc/connect";
import { ArtifactStore } from "./artifact-store.js";
import type { ArtifactsDeps, GuestArtifactsDeps } from "./artifacts-deps.js";
import { GuestGuard } from "./guest-guard.js";
import { listenGuest } from "./guest-listener.js";
import { httpUploadRoute } from "./http-upload-route.js";
import { artifactRoutes, guestArtifactRoutes } from "./routes.js";
import { sweepTempFiles } from "./temp-sweeper.js";

/** One upload message: a 1 MiB chunk (the contract's maximum) plus framing. */
export const UPLOAD_MESSAGE_MAX_BYTES = 1024 * 1024 + 64 * 1024;

export interface ArtifactsServerOptions {
  artifactDir: string;
  /** artifacts_socket: every RPC, for the CLI and control. */
  socketPath: string;
  socketGroup?: string;
  /** artifact_listen: UploadArtifact and POST /upload for guests; omit to serve the socket only. */
  guestListen?: { host: string; port: number };
  agentSubnet: string;
  maxBytes: number;
  rateLimit: { qps: number; burst: number };
  registry: Client<typeof ArtifactRegistryService>;
  logger: Logger;
  now?: () => number;
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
  const deps: ArtifactsDeps = { registry: options.registry, store, maxBytes: options.maxBytes, logger: options.logger };
  const socket = await listen({
    endpoint: {
      unix: { path: options.socketPath, ...(options.socketGroup !== undefined && { group: options.socketGroup }) },
    },
    connectRoutes: artifactRoutes(deps),
    maxBodyBytes: UPLOAD_MESSAGE_MAX_BYTES,
    logger: options.logger,
  });
  let guest: Awaited<ReturnType<typeof listenGuest>> | undefined;
  if (options.guestListen) {
    const guestDeps: GuestArtifactsDeps = {
      ...deps,
      guard: new GuestGuard({
        agentSubnet: options.agentSubnet,
        qps: options.rateLimit.qps,
        burst: options.rateLimit.burst,
        ...(options.now && { now: options.now }),
      }),
    };
    try {
      guest = await listenGuest({
        ...options.guestListen,
        connectRoutes: guestArtifactRoutes(guestDeps),
        httpRoutes: httpUploadRoute(guestDeps),
        readMaxBytes: UPLOAD_MESSAGE_MAX_BYTES,
        logger: options.logger,
      });
    } catch (err) {
      await socket.close();
      throw err;
    }
  }
  options.logger.info({ socket: socket.address, guest: guest?.address, artifact_dir: store.root }, "artifacts serving");
  return {
    socketPath: socket.address,
    guestAddress: guest?.address,
    guestPort: guest?.port,
    async close() {
      await Promise.all([socket.close(), guest?.close()]);
    },
  };
}
