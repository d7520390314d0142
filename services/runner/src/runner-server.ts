import {
  type AgentLabConfig,
  createBearerAuthInterceptor,
  type Listener,
  type Logger,
  listen,
  versionLine,
} from "@agentlab/core";
import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import { serveMetrics } from "@agentlab/core/metrics/metrics-server";
import { lookupGroupId } from "@agentlab/core/unix-socket-file";
import type { Registry } from "prom-client";
import type { Backend } from "./backend.js";
import { createBackend } from "./create-backend.js";
import type { GuestSocketConfig } from "./local-sandbox-endpoints.js";
import { backendKindOf, withBackendMetrics } from "./metrics/backend-metrics.js";
import { runnerRoutes } from "./runner-routes.js";

/** Group that may use the runner's socket (control runs in it). */
export const RUNNER_SOCKET_GROUP = "agentlab";
const RUNNER_SOCKET_MODE = 0o660;

export interface StartRunnerOptions {
  config: AgentLabConfig & Partial<GuestSocketConfig>;
  logger: Logger;
  /** The config file read (hidden from local sandboxes). */
  configPath?: string | undefined;
  /** Overrides runner_socket (`--socket`). */
  socketPath?: string | undefined;
  /** Group of the socket; default `agentlab` when that group exists, else the process's own. */
  socketGroup?: string | undefined;
  /**
   * A TCP listener for runners on other nodes; it requires `internalToken`. Config has no
   * `runner_listen` key yet, so only embedding code (agentlabd, tests) sets this today.
   */
  tcp?: { host: string; port: number; internalToken: string } | undefined;
  /** An already built backend (agentlabd, tests); default: createBackend(config). Closed by close(). */
  backend?: Backend | undefined;
  /** The guest bundle mounted into local sandboxes. */
  guestBundlePath?: string | undefined;
  /** Epoch milliseconds. */
  clock?: () => number;
  /** A registry shared with other services (agentlabd), which serves it; else runner_metrics_listen serves the runner's own. */
  metrics?: Registry | undefined;
}

export interface RunnerServer {
  socketPath: string;
  /** `host:port` of the TCP listener, when started. */
  tcpAddress: string | undefined;
  tcpPort: number | undefined;
  backend: Backend;
  /**
   * Stops listening, lets in-flight calls finish, then closes the backend — which leaves local
   * sandboxes running: they outlive the runner and the next one picks them up from their state files.
   */
  close(): Promise<void>;
}

/** Serves RunnerService on the runner socket (and TCP when asked); agentlabd calls this in-process. */
export async function startRunner(options: StartRunnerOptions): Promise<RunnerServer> {
  const { config, logger } = options;
  const unmeasured =
    options.backend ??
    createBackend(config, {
      logger,
      configPath: options.configPath,
      guestBundlePath: options.guestBundlePath,
    });
  const metrics = options.metrics ?? (config.runner_metrics_listen ? createMetricsRegistry("runner") : undefined);
  const backend = metrics ? withBackendMetrics(unmeasured, metrics, backendKindOf(config)) : unmeasured;
  const routes = runnerRoutes({
    backend,
    runnerVersion: versionLine(),
    ...(options.clock && { clock: options.clock }),
    defaultDeadlineMs: { provisionVm: config.provisioning_timeout, waitGuestIp: config.boot_timeout },
  });
  const socketPath = options.socketPath ?? config.runner_socket;
  const group =
    options.socketGroup ?? (lookupGroupId(RUNNER_SOCKET_GROUP) !== undefined ? RUNNER_SOCKET_GROUP : undefined);

  const listeners: Listener[] = [];
  let metricsListener: Listener | undefined;
  try {
    listeners.push(
      await listen({
        endpoint: { unix: { path: socketPath, mode: RUNNER_SOCKET_MODE, ...(group !== undefined && { group }) } },
        connectRoutes: routes,
        logger,
      }),
    );
    if (options.tcp) {
      const { host, port, internalToken } = options.tcp;
      listeners.push(
        await listen({
          endpoint: { tcp: { host, port } },
          connectRoutes: routes,
          interceptors: [createBearerAuthInterceptor(internalToken, "internal_token")],
          logger,
        }),
      );
    }
    if (metrics && !options.metrics && config.runner_metrics_listen) {
      metricsListener = await serveMetrics({ listen: config.runner_metrics_listen, registry: metrics, logger });
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await backend.close();
    throw err;
  }
  const [unix, tcp] = listeners;
  logger.info(
    {
      socket: unix?.address,
      tcp: tcp?.address,
      backend: config.sandbox_backend,
      proxmox_backend: config.proxmox_backend,
    },
    "runner serving",
  );

  let closing: Promise<void> | undefined;
  return {
    socketPath: unix?.address ?? socketPath,
    tcpAddress: tcp?.address,
    tcpPort: tcp?.port,
    backend,
    close() {
      closing ??= (async () => {
        await Promise.all([...listeners.map((l) => l.close()), metricsListener?.close()]);
        await backend.close();
      })();
      return closing;
    },
  };
}
