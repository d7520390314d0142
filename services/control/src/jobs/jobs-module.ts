/**
 * Jobs as one injected part of control: the finalizer, the orchestrator, the heartbeat and cancel
 * watches, the log feed shared by GuestService and WatchJob, and the secrets reader — built once
 * from control's db, bus, clock, lifecycle and profiles. control-app.ts mounts the routes and calls
 * recover()/start()/stop(); no sockets here.
 */
import type { Logger } from "@agentlab/core";
import type { ConnectRouter } from "@connectrpc/connect";
import type { SqliteDatabase } from "../db/open-database.js";
import type { Clock } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { registerGuestRoutes } from "../guest/guest-routes.js";
import { legacyGuestHttpRoutes } from "../guest/legacy-guest-routes.js";
import { createPeriodicLoop, type LoopTimers, type PeriodicLoop } from "../loops/periodic-loop.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import type { SandboxLifecycle } from "../sandboxes/sandbox-lifecycle.js";
import { SecretsBundleReader } from "../secrets/secrets-bundle.js";
import { JobCancelWatch } from "./job-cancel.js";
import { JobFinalizer } from "./job-finalizer.js";
import { JobHeartbeatWatch } from "./job-heartbeat-watch.js";
import { JobLogFeed } from "./job-log-feed.js";
import { JobOrchestrator } from "./job-orchestrator.js";
import { registerJobRoutes } from "./job-routes.js";
import type { JobSettings } from "./job-settings.js";

export interface JobsModuleDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  lifecycle: SandboxLifecycle;
  profiles: ProfileRegistry;
  logger: Logger;
  settings: JobSettings;
  /** max_active_sandboxes, the same value the lifecycle's policy has. */
  maxActiveSandboxes: number;
  /** How often the heartbeat and cancel watches run and waiting jobs are retried; default 30 s. */
  watchIntervalMs?: number;
  timers?: LoopTimers;
}

export interface JobsModule {
  finalizer: JobFinalizer;
  orchestrator: JobOrchestrator;
  heartbeatWatch: JobHeartbeatWatch;
  cancelWatch: JobCancelWatch;
  logFeed: JobLogFeed;
  secrets: SecretsBundleReader;
  /** JobService, for socket_path (and control_listen). */
  registerJobRoutes(router: ConnectRouter): void;
  /** GuestService, for bootstrap_listen and the local guest socket. */
  registerGuestRoutes(router: ConnectRouter): void;
  /** The original's JSON guest routes, as `httpRoutes` of bootstrap_listen. */
  legacyHttpRoutes: ReturnType<typeof legacyGuestHttpRoutes>;
  /** At start, before start(): settle jobs a previous process left RUNNING. */
  recover(): ReturnType<JobOrchestrator["recover"]>;
  start(): void;
  stop(): Promise<void>;
}

export function createJobsModule(deps: JobsModuleDeps): JobsModule {
  const { db, bus, clock, lifecycle, profiles, logger, settings } = deps;
  const interval = deps.watchIntervalMs ?? 30_000;
  const secrets = new SecretsBundleReader(settings.secretsDir);
  const logFeed = new JobLogFeed();
  const finalizer = new JobFinalizer({ db, bus, clock, lifecycle, logger });
  const orchestrator = new JobOrchestrator({
    db,
    bus,
    clock,
    lifecycle,
    profiles,
    finalizer,
    logger,
    uploadGraceMs: settings.uploadGraceMs,
    maxActiveSandboxes: deps.maxActiveSandboxes,
    retryIntervalMs: interval,
    ...(deps.timers ? { timers: deps.timers } : {}),
  });
  const heartbeatWatch = new JobHeartbeatWatch({
    db,
    clock,
    lifecycle,
    finalizer,
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
    isStarting: (id) => orchestrator.isStarting(id),
  });
  const cancelWatch = new JobCancelWatch({ db, bus, clock, finalizer, cancelGraceMs: settings.cancelGraceMs });
  const loops: PeriodicLoop[] = [
    createPeriodicLoop({
      name: "job-heartbeats",
      intervalMs: interval,
      run: async () => heartbeatWatch.runOnce(),
      logger,
      ...(deps.timers ? { timers: deps.timers } : {}),
    }),
    createPeriodicLoop({
      name: "job-cancels",
      intervalMs: interval,
      run: async () => cancelWatch.runOnce(),
      logger,
      ...(deps.timers ? { timers: deps.timers } : {}),
    }),
  ];
  const guestDeps = { db, bus, clock, profiles, secrets, finalizer, logFeed, settings, logger };
  return {
    finalizer,
    orchestrator,
    heartbeatWatch,
    cancelWatch,
    logFeed,
    secrets,
    registerJobRoutes(router) {
      registerJobRoutes(router, {
        db,
        bus,
        clock,
        profiles,
        secrets,
        logFeed,
        finalizer,
        cancelGraceMs: settings.cancelGraceMs,
      });
    },
    registerGuestRoutes(router) {
      registerGuestRoutes(router, guestDeps);
    },
    legacyHttpRoutes: legacyGuestHttpRoutes(guestDeps),
    recover: () => orchestrator.recover(),
    start() {
      orchestrator.start();
      for (const loop of loops) loop.start();
    },
    async stop() {
      await Promise.all(loops.map((l) => l.stop()));
      await orchestrator.stop();
      await finalizer.drain();
    },
  };
}
