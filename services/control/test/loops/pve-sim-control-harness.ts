/**
 * The control harness with a Proxmox runner instead of a local one: the real RunnerService routes
 * over the proxmox-api backend, talking HTTPS to pve-sim on 127.0.0.1 (certificate pinned by
 * fingerprint), all joined to control by Connect's in-memory router transport. Control keeps a
 * manual clock; the simulator runs on a real clock scaled down, so clones and boots take milliseconds.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SandboxService } from "@agentlab/api";
import { type AgentLabConfig, createErrorMappingInterceptor, createLogger, loadConfig } from "@agentlab/core";
import { createPveSim, type PveSim } from "@agentlab/pve-sim";
import type { Backend } from "@agentlab/runner/backend";
import { createProxmoxApiBackend } from "@agentlab/runner/backends/proxmox-api/proxmox-api-backend";
import { runnerRoutes } from "@agentlab/runner/runner-routes";
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { type ControlApp, createControlApp } from "../../src/control-app.js";
import { closeDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { ProfileRegistry } from "../../src/profiles/profile-registry.js";
import { type ManualClock, manualClock } from "../support/control-harness.js";

export const PVE_PROFILE = `name: pve-test
backend: proxmox
template_vmid: 9000
resources:
  cores: 1
  memory_mb: 512
behavior:
  ttl_minutes_default: 60
  keepalive_default: false
`;

export const DEPLOYMENT_ID = "testdeploy";
export const OWNER_TAG = `agentlab-${DEPLOYMENT_ID}`;

export interface PveSimControlHarness {
  dir: string;
  config: AgentLabConfig;
  app: ControlApp;
  sim: PveSim;
  backend: Backend;
  clock: ManualClock;
  sandboxes: Client<typeof SandboxService>;
  /** Closes the simulator early (to make the runner unreachable); close() then skips it. */
  closeSim(): Promise<void>;
  close(): Promise<void>;
}

export async function startPveSimControlHarness(
  options: { config?: Record<string, unknown>; profiles?: Record<string, string> } = {},
): Promise<PveSimControlHarness> {
  const dir = mkdtempSync(join(tmpdir(), "agentlab-control-pve-"));
  chmodSync(dir, 0o711);
  const profilesDir = join(dir, "profiles");
  const snippetsDir = join(dir, "snippets");
  mkdirSync(profilesDir);
  mkdirSync(snippetsDir);
  writeFileSync(join(profilesDir, "pve-test.yaml"), PVE_PROFILE);
  for (const [file, text] of Object.entries(options.profiles ?? {})) writeFileSync(join(profilesDir, file), text);
  const sim = await createPveSim({ timeScale: 0.01, snippetsDir });
  let simOpen = true;
  const { config } = loadConfig({
    path: writeConfig(dir, {
      profiles_dir: profilesDir,
      sandbox_backend: "proxmox",
      proxmox_backend: "api",
      proxmox_api_url: sim.baseUrl,
      proxmox_api_token: sim.token,
      proxmox_tls_fingerprint: sim.fingerprint,
      snippets_dir: snippetsDir,
      ...options.config,
    }),
  });
  const clock = manualClock();
  const logger = createLogger({ service: "test", level: "silent" });
  const { db } = await openMigratedDatabase({ dbPath: config.db_path, clock: clock.now, takeBackup: false });
  const profiles = new ProfileRegistry({ profilesDir });
  await profiles.load();
  const fast = { initialMs: 10, maxMs: 50, factor: 2 };
  const backend = createProxmoxApiBackend({
    ownerTag: OWNER_TAG,
    apiUrl: sim.baseUrl,
    apiToken: sim.token,
    tls: { fingerprint: sim.fingerprint },
    snippetsDir,
    // Poll at simulator speed; an unreachable node is given up on after a few quick attempts.
    taskPoll: fast,
    agentPoll: fast,
    lockRetry: fast,
    requestTimeoutMs: 5_000,
  });
  const routerOptions = { router: { interceptors: [createErrorMappingInterceptor()] } };
  const runnerTransport = createRouterTransport(runnerRoutes({ backend, runnerVersion: "test" }), routerOptions);
  const app = createControlApp({
    config,
    db,
    profiles,
    logger,
    clock: clock.now,
    runnerTransport: () => runnerTransport,
  });
  const transport = createRouterTransport((router) => app.registerRoutes(router), routerOptions);
  const closeSim = async () => {
    if (!simOpen) return;
    simOpen = false;
    await sim.close();
  };
  return {
    dir,
    config,
    app,
    sim,
    backend,
    clock,
    sandboxes: createClient(SandboxService, transport),
    closeSim,
    async close() {
      await app.stop();
      await backend.close();
      // The simulator holds every VM: closing it removes them, foreign and ours alike.
      await closeSim();
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
    deployment_id: DEPLOYMENT_ID,
    bootstrap_listen: "127.0.0.1:0",
    artifact_listen: "127.0.0.1:0",
    agent_subnet: "127.0.0.0/8",
    ...values,
  };
  mkdirSync(all.data_dir, { recursive: true });
  mkdirSync(all.run_dir, { recursive: true });
  writeFileSync(
    path,
    Object.entries(all)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join("\n"),
    { mode: 0o600 },
  );
  return path;
}
