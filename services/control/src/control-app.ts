/**
 * Control as a set of injected parts: database, clock, event bus, profiles, runners, the sandbox
 * lifecycle and its loops, plus the routes each listener serves. No sockets here (see
 * control-server.ts): tests build a whole control in one process around a fake clock.
 */

import { ArtifactService } from "@agentlab/api";
import type { AgentLabConfig, Logger } from "@agentlab/core";
import { type ConnectRouter, createClient, type Transport } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import { createArtifactDeleter } from "./artifacts/artifact-deleter.js";
import { registerArtifactRegistryRoutes } from "./artifacts/artifact-registry-routes.js";
import { type ArtifactRetention, createArtifactRetention } from "./artifacts/artifact-retention.js";
import { retentionFromRegistry } from "./artifacts/retention-profile-lookup.js";
import type { SqliteDatabase } from "./db/open-database.js";
import type { Clock } from "./db/timestamps.js";
import { EventBus } from "./events/event-bus.js";
import { registerEventRoutes } from "./events/event-routes.js";
import { jobSettingsFromConfig } from "./jobs/job-settings.js";
import { createJobsModule, type JobsModule } from "./jobs/jobs-module.js";
import { expireLeases } from "./loops/lease-expiry.js";
import { createPeriodicLoop, type LoopTimers, type PeriodicLoop } from "./loops/periodic-loop.js";
import { SandboxReconciler } from "./loops/sandbox-reconciler.js";
import { enforceStartingDeadlines } from "./loops/startup-deadlines.js";
import { attachControlMetrics } from "./metrics/control-metrics.js";
import type { ProfileRegistry } from "./profiles/profile-registry.js";
import { registerProfileRoutes } from "./profiles/profile-routes.js";
import { RunnerPool } from "./runners/runner-pool.js";
import { SandboxLifecycle } from "./sandboxes/sandbox-lifecycle.js";
import type { SandboxPolicy } from "./sandboxes/sandbox-policy.js";
import { registerSandboxRoutes } from "./sandboxes/sandbox-routes.js";
import { type ArtifactsPeer, probePeers } from "./system/peer-probe.js";
import { registerSystemRoutes } from "./system/system-routes.js";
import { registerWorkspaceRoutes } from "./workspaces/workspace-routes.js";

export interface ControlAppOptions {
  config: AgentLabConfig;
  db: SqliteDatabase;
  profiles: ProfileRegistry;
  logger: Logger;
  clock?: Clock;
  timers?: LoopTimers;
  /** How to reach a runner endpoint from `runners`. */
  runnerTransport: (endpoint: string) => Transport;
  /** The artifacts service, for status and retention deletes. */
  artifacts?: ArtifactsPeer;
  startedAt?: Date;
  /** Registers control's metrics here and follows the event bus (served by control-server or agentlabd). */
  metrics?: Registry;
}

export interface ControlApp {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  profiles: ProfileRegistry;
  runners: RunnerPool;
  lifecycle: SandboxLifecycle;
  reconciler: SandboxReconciler;
  jobs: JobsModule;
  policy: SandboxPolicy;
  /** CLI-facing services for socket_path (and control_listen). */
  registerRoutes(router: ConnectRouter): void;
  /** Internal services for peers (the artifacts service): socket_path only, or TCP behind internal_token. */
  registerPeerRoutes(router: ConnectRouter): void;
  /** What guests call (GuestService): guest_socket for local sandboxes, bootstrap_listen for VMs. */
  registerGuestRoutes(router: ConnectRouter): void;
  /** Startup recovery and background loops. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function sandboxPolicyFrom(config: AgentLabConfig): SandboxPolicy {
  return {
    deploymentId: config.deployment_id ?? "default",
    provisioningTimeoutMs: config.provisioning_timeout,
    bootTimeoutMs: config.boot_timeout,
    requestedTimeoutMs: config.requested_timeout,
    maxActiveSandboxes: config.max_active_sandboxes,
    vmidAttempts: 5,
    controllerUrl: config.controller_url,
    // Long enough for a slow clone and boot; the guest fetches once, at its first start.
    bootstrapTokenTtlMs: config.provisioning_timeout + config.boot_timeout + 10 * 60_000,
    adoptUntaggedVms: config.adopt_untagged_vms,
  };
}

export function createControlApp(options: ControlAppOptions): ControlApp {
  const { config, db, profiles, logger } = options;
  const clock = options.clock ?? (() => new Date());
  const bus = new EventBus();
  const metrics = options.metrics ? attachControlMetrics({ registry: options.metrics, db, bus }) : undefined;
  const runners = new RunnerPool(config.runners, options.runnerTransport);
  const policy = sandboxPolicyFrom(config);
  const stateCtx = { db, bus, clock };
  const lifecycle = new SandboxLifecycle({ ...stateCtx, runners, profiles, policy, logger });
  const reconciler = new SandboxReconciler({
    ...stateCtx,
    runners,
    lifecycle,
    logger,
    maxOrphanDestroys: config.orphan_sweep_max_destroys,
  });
  const jobs = createJobsModule({
    db,
    bus,
    clock,
    lifecycle,
    profiles,
    logger,
    settings: jobSettingsFromConfig(config),
    maxActiveSandboxes: policy.maxActiveSandboxes,
    watchIntervalMs: config.reconcile_interval,
    ...(options.timers ? { timers: options.timers } : {}),
  });
  const startedAt = options.startedAt ?? clock();
  // Retention needs the artifacts service to delete files; without one, artifacts are kept.
  const retention: ArtifactRetention | undefined = options.artifacts
    ? createArtifactRetention({
        db,
        bus,
        clock,
        logger,
        profiles: retentionFromRegistry(profiles),
        deleteArtifacts: createArtifactDeleter(createClient(ArtifactService, options.artifacts.transport)),
      })
    : undefined;
  const loopDeps = { ...stateCtx, lifecycle, runners, policy, logger };
  const loops: PeriodicLoop[] = [
    createPeriodicLoop({
      name: "lease-expiry",
      intervalMs: config.reconcile_interval,
      run: () => expireLeases(loopDeps),
      logger,
      ...(options.timers ? { timers: options.timers } : {}),
    }),
    createPeriodicLoop({
      name: "starting-deadlines",
      intervalMs: config.reconcile_interval,
      run: () => enforceStartingDeadlines(loopDeps),
      logger,
      ...(options.timers ? { timers: options.timers } : {}),
    }),
    createPeriodicLoop({
      name: "reconciler",
      intervalMs: config.reconcile_interval,
      run: () => reconciler.sweep({ dryRun: false }),
      logger,
      ...(options.timers ? { timers: options.timers } : {}),
    }),
  ];

  return {
    db,
    bus,
    clock,
    profiles,
    runners,
    lifecycle,
    reconciler,
    jobs,
    policy,
    registerRoutes(router) {
      jobs.registerJobRoutes(router);
      registerSandboxRoutes(router, { db, lifecycle, reconciler });
      registerWorkspaceRoutes(router, { db, bus, clock, runners });
      registerProfileRoutes(router, { profiles });
      registerEventRoutes(router, { db, bus });
      registerSystemRoutes(router, {
        db,
        profiles,
        startedAt,
        deploymentId: policy.deploymentId,
        databasePath: config.db_path,
        sandboxBackend: config.sandbox_backend,
        probePeers: () => probePeers(runners, options.artifacts),
      });
    },
    registerGuestRoutes(router) {
      jobs.registerGuestRoutes(router);
    },
    registerPeerRoutes(router) {
      registerArtifactRegistryRoutes(router, { db, bus, clock, maxBytes: config.artifact_max_bytes, logger });
    },
    async start() {
      // Sandboxes left half-built by a previous process have no one working on them any more.
      await enforceStartingDeadlines(loopDeps, { interrupted: true });
      await jobs.recover();
      jobs.start();
      for (const loop of loops) loop.start();
      retention?.start();
    },
    async stop() {
      await Promise.all([...loops.map((l) => l.stop()), retention?.stop(), jobs.stop()]);
      await lifecycle.drain();
      metrics?.stop();
    },
  };
}
