/**
 * Control's process: opens and migrates the database, loads profiles, builds the app and binds its
 * listeners — socket_path for the CLI and peers (file mode and group are the access control),
 * guest_socket for local sandboxes, bootstrap_listen for Proxmox guests, control_listen (TCP, token)
 * when configured.
 */

import { readFileSync } from "node:fs";
import type { AgentLabConfig, Listener, Logger } from "@agentlab/core";
import {
  createBearerAuthInterceptor,
  createPeerTransport,
  isLoopbackHost,
  listen,
  PermissionDeniedError,
  parseHostPort,
  remoteAddressKey,
} from "@agentlab/core";
import { GuestGuard } from "@agentlab/core/guest-guard";
import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import { serveMetrics } from "@agentlab/core/metrics/metrics-server";
import { SubnetGuard } from "@agentlab/core/subnet-guard";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import { type ControlApp, createControlApp } from "./control-app.js";
import { closeDatabase } from "./db/open-database.js";
import { openMigratedDatabase } from "./db/open-migrated-database.js";
import type { Clock } from "./db/timestamps.js";
import { ProfileRegistry } from "./profiles/profile-registry.js";

export interface StartControlOptions {
  config: AgentLabConfig;
  logger: Logger;
  clock?: Clock;
  /** Operator-facing lines (backup path, applied migrations). */
  log?: (line: string) => void;
  /** Extra routes on socket_path (e.g. the artifact registry) and on the guest listeners. */
  extraRoutes?: (app: ControlApp) => {
    control?: (router: ConnectRouter) => void;
    guest?: (router: ConnectRouter) => void;
  };
  /** A registry shared with other services (agentlabd), which serves it; else metrics_listen serves control's own. */
  metrics?: Registry;
}

export interface RunningControl {
  app: ControlApp;
  listeners: Listener[];
  reloadProfiles(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Peers on TCP carry the internal token (DESIGN §2); Unix sockets need none. The Connect protocol
 * over HTTP/2, not gRPC: the same contract and streams, without gRPC's envelope and trailers, at
 * about two thirds of the CPU per unary call in Connect-ES (≈ 0.5 ms against 0.8 ms for client and
 * server together) — control calls the runner four times per sandbox (docs/benchmarks.md).
 */
export function peerTransportFor(config: AgentLabConfig) {
  return (endpoint: string) => {
    const interceptors: Interceptor[] = [];
    const token = config.internal_token;
    if (!endpoint.startsWith("unix://") && token) {
      interceptors.push((next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      });
    }
    return createPeerTransport(endpoint, { protocol: "connect", interceptors });
  };
}

export async function startControl(options: StartControlOptions): Promise<RunningControl> {
  const { config, logger } = options;
  const clock = options.clock ?? (() => new Date());
  const { db, migration } = await openMigratedDatabase({
    dbPath: config.db_path,
    clock,
    log: options.log ?? ((line) => logger.info(line)),
  });
  if (migration.applied.length > 0) {
    logger.info({ from: migration.from, to: migration.to, backup: migration.backupPath }, "database migrated");
  }
  const listeners: Listener[] = [];
  let app: ControlApp | undefined;
  try {
    const profiles = new ProfileRegistry({
      profilesDir: config.profiles_dir,
      logger: { warn: (m) => logger.warn(m), error: (m) => logger.error(m) },
    });
    await profiles.load();
    const transportFor = peerTransportFor(config);
    const metrics = options.metrics ?? (config.metrics_listen ? createMetricsRegistry("control") : undefined);
    app = createControlApp({
      config,
      db,
      profiles,
      logger,
      clock,
      runnerTransport: transportFor,
      artifacts: {
        endpoint: `unix://${config.artifacts_socket}`,
        transport: transportFor(`unix://${config.artifacts_socket}`),
      },
      ...(metrics && { metrics }),
    });
    const ready = app;
    const extra = options.extraRoutes?.(ready) ?? {};
    const controlRoutes = (router: ConnectRouter) => {
      ready.registerRoutes(router);
      extra.control?.(router);
    };
    // The Unix socket also serves peers' internal API: its file mode and group are the access control.
    const socketRoutes = (router: ConnectRouter) => {
      controlRoutes(router);
      ready.registerPeerRoutes(router);
    };
    listeners.push(
      await listen({
        endpoint: { unix: { path: config.socket_path, mode: 0o660, group: "agentlab" } },
        connectRoutes: socketRoutes,
        logger,
      }),
    );
    const guestRoutes = (router: ConnectRouter) => {
      ready.registerGuestRoutes(router);
      extra.guest?.(router);
    };
    // Local sandboxes run as an unprivileged uid and reach this socket through a bind mount; every
    // call on it still needs a job token.
    listeners.push(
      await listen({
        endpoint: { unix: { path: config.guest_socket, mode: 0o666 } },
        connectRoutes: guestRoutes,
        logger,
      }),
    );
    const bootstrapAt = parseHostPort(config.bootstrap_listen);
    // Proxmox guests call in over the agent bridge; a loopback bootstrap_listen (tests, staging) is
    // safe to bind for any backend. Local sandboxes use guest_socket.
    if (bootstrapAt && (config.sandbox_backend === "proxmox" || isLoopbackHost(bootstrapAt.host))) {
      const guard = new GuestGuard({
        agentSubnet: config.agent_subnet,
        qps: config.bootstrap_rate_limit_qps,
        burst: config.bootstrap_rate_limit_burst,
        limitKeyPrefix: "bootstrap",
      });
      const guardInterceptor: Interceptor = (next) => async (req) => {
        guard.checkSource(req.contextValues.get(remoteAddressKey));
        return next(req);
      };
      listeners.push(
        await listen({
          endpoint: { tcp: bootstrapAt },
          connectRoutes: guestRoutes,
          // Guests of the original AgentLab still running jobs speak its JSON routes.
          httpRoutes: (req, res) => {
            guard.checkSource(req.socket.remoteAddress);
            return ready.jobs.legacyHttpRoutes(req, res);
          },
          interceptors: [guardInterceptor],
          logger,
        }),
      );
    }
    if (config.control_listen) {
      listeners.push(await listenForRemoteCli(config, controlRoutes, logger));
    }
    if (metrics && !options.metrics && config.metrics_listen) {
      listeners.push(await serveMetrics({ listen: config.metrics_listen, registry: metrics, logger }));
    }
    await ready.start();
    logger.info({ socket: config.socket_path, schema: migration.to }, "control ready");
    return {
      app: ready,
      listeners,
      reloadProfiles: async () => {
        const change = await ready.profiles.reload();
        logger.info({ generation: change.generation, changed: change.changed }, "profiles reloaded");
      },
      close: async () => {
        await Promise.allSettled(listeners.map((l) => l.close()));
        await ready.stop();
        closeDatabase(db);
      },
    };
  } catch (err) {
    await Promise.allSettled(listeners.map((l) => l.close()));
    await app?.stop();
    closeDatabase(db);
    throw err;
  }
}

/**
 * control_listen (DESIGN §2): remote CLIs over TCP, with the bearer token, the CIDR allow-list and
 * TLS that config validation requires off loopback. Peers' internal API is never served here.
 */
async function listenForRemoteCli(
  config: AgentLabConfig,
  routes: (router: ConnectRouter) => void,
  logger: Logger,
): Promise<Listener> {
  const at = parseHostPort(config.control_listen ?? "");
  if (!at) throw new Error(`control_listen ${JSON.stringify(config.control_listen)} is not host:port`);
  const interceptors: Interceptor[] = [];
  const allowed = config.control_allow_cidrs ?? [];
  if (allowed.length > 0) {
    const subnet = new SubnetGuard(allowed);
    interceptors.push((next) => async (req) => {
      const source = req.contextValues.get(remoteAddressKey);
      if (!subnet.allows(source)) {
        throw new PermissionDeniedError({
          message: "remote address not allowed",
          value: source ?? "unknown",
          hint: "add its network to control_allow_cidrs",
        });
      }
      return next(req);
    });
  }
  if (config.control_auth_token)
    interceptors.push(createBearerAuthInterceptor(config.control_auth_token, "control_auth_token"));
  const tls =
    config.control_tls_cert_path && config.control_tls_key_path
      ? { cert: readFileSync(config.control_tls_cert_path), key: readFileSync(config.control_tls_key_path) }
      : undefined;
  return listen({ endpoint: { tcp: at }, connectRoutes: routes, interceptors, logger, ...(tls ? { tls } : {}) });
}
