/**
 * A whole control in one process for tests: a real SQLite file, real profiles on disk, the real
 * runner routes over a real local backend (namespace sandboxes), all joined by Connect's in-memory
 * router transport, with a clock the test can move.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EventService,
  JobService,
  ProfileService,
  SandboxService,
  SystemService,
  WorkspaceService,
} from "@agentlab/api";
import {
  type AgentLabConfig,
  createErrorMappingInterceptor,
  createLogger,
  DomainError,
  loadConfig,
} from "@agentlab/core";
import type { Backend } from "@agentlab/runner/backend";
import { createLocalBackend } from "@agentlab/runner/backends/local/local-backend";
import { runnerRoutes } from "@agentlab/runner/runner-routes";
import { type Client, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { type ControlApp, createControlApp } from "../../src/control-app.js";
import { closeDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { ProfileRegistry } from "../../src/profiles/profile-registry.js";

export const LOCAL_PROFILE = `name: local-test
backend: local
resources:
  cores: 1
  memory_mb: 256
network:
  mode: none
behavior:
  ttl_minutes_default: 60
  keepalive_default: false
`;

export interface ManualClock {
  now(): Date;
  advance(ms: number): void;
}

export function manualClock(start = new Date("2026-06-01T12:00:00.000Z")): ManualClock {
  let t = start.getTime();
  return { now: () => new Date(t), advance: (ms) => (t += ms) };
}

export interface ControlHarness {
  dir: string;
  config: AgentLabConfig;
  app: ControlApp;
  backend: Backend;
  clock: ManualClock;
  clients: {
    sandboxes: Client<typeof SandboxService>;
    workspaces: Client<typeof WorkspaceService>;
    profiles: Client<typeof ProfileService>;
    events: Client<typeof EventService>;
    system: Client<typeof SystemService>;
    jobs: Client<typeof JobService>;
  };
  close(): Promise<void>;
}

export async function startControlHarness(
  options: {
    profiles?: Record<string, string>;
    config?: Record<string, unknown>;
    /** Run inside the runner's router, after the error mapping: to watch or alter what it answers. */
    runnerInterceptors?: Interceptor[];
  } = {},
): Promise<ControlHarness> {
  const dir = mkdtempSync(join(tmpdir(), "agentlab-control-"));
  // Sandboxes start as an unprivileged uid that must be able to pass through to their directories.
  chmodSync(dir, 0o711);
  const profilesDir = join(dir, "profiles");
  mkdirSync(profilesDir);
  for (const [file, text] of Object.entries(options.profiles ?? { "local-test.yaml": LOCAL_PROFILE })) {
    writeFileSync(join(profilesDir, file), text);
  }
  const { config } = loadConfig({
    path: writeConfig(dir, { profiles_dir: profilesDir, ...options.config }),
  });
  const clock = manualClock();
  const logger = createLogger({ service: "test", level: "silent" });
  const { db } = await openMigratedDatabase({ dbPath: config.db_path, clock: clock.now, takeBackup: false });
  const profiles = new ProfileRegistry({ profilesDir });
  await profiles.load();
  const backend = createLocalBackend({
    sandboxDir: config.local_sandbox_dir,
    ownerTag: `agentlab-${config.deployment_id}`,
  });
  // The same error mapping the real listeners apply, so domain errors arrive with their codes.
  const routerOptions = { router: { interceptors: [createErrorMappingInterceptor(), logUnexpectedErrors] } };
  const runnerTransport = createRouterTransport(runnerRoutes({ backend, runnerVersion: "test" }), {
    router: { interceptors: [...routerOptions.router.interceptors, ...(options.runnerInterceptors ?? [])] },
  });
  const app = createControlApp({
    config,
    db,
    profiles,
    logger,
    clock: clock.now,
    runnerTransport: () => runnerTransport,
  });
  const transport = createRouterTransport((router) => app.registerRoutes(router), routerOptions);
  return {
    dir,
    config,
    app,
    backend,
    clock,
    clients: {
      sandboxes: createClient(SandboxService, transport),
      workspaces: createClient(WorkspaceService, transport),
      profiles: createClient(ProfileService, transport),
      events: createClient(EventService, transport),
      system: createClient(SystemService, transport),
      jobs: createClient(JobService, transport),
    },
    async close() {
      await app.stop();
      for (const vm of await backend.listVms({ requestId: "cleanup", deadline: Date.now() + 30_000 })) {
        await backend.destroy({ requestId: `cleanup-${vm.vmid}`, deadline: Date.now() + 30_000 }, vm.vmid);
      }
      await backend.close();
      closeDatabase(db);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function writeConfig(dir: string, values: Record<string, unknown>): string {
  const path = join(dir, "config.yaml");
  const all = {
    data_dir: join(dir, "data"),
    run_dir: join(dir, "run"),
    sandbox_backend: "local",
    deployment_id: "testdeploy",
    bootstrap_listen: "127.0.0.1:0",
    artifact_listen: "127.0.0.1:0",
    ...values,
  };
  mkdirSync(all.data_dir as string, { recursive: true });
  mkdirSync(all.run_dir as string, { recursive: true });
  writeFileSync(
    path,
    Object.entries(all)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join("\n"),
    { mode: 0o600 },
  );
  return path;
}

/** Internal errors reach the client as a generic message; the test log keeps the real one. */
const logUnexpectedErrors: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    if (!(err instanceof DomainError) && !(err instanceof ConnectError)) console.error(`${req.method.name}:`, err);
    throw err;
  }
};
