/**
 * Jobs in one process: a real SQLite file, real profiles and secrets on disk, the sandbox lifecycle
 * over the real runner routes and a real local backend (namespace sandboxes), JobService and
 * GuestService over Connect's in-memory router transport, and a fake clock. The guest is simulated by
 * calling GuestService as the real guest would, with the token from the sandbox's bootstrap.json.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestService, JobService } from "@agentlab/api";
import { createErrorMappingInterceptor, createLogger, type Logger } from "@agentlab/core";
import type { Backend } from "@agentlab/runner/backend";
import { createLocalBackend } from "@agentlab/runner/backends/local/local-backend";
import { runnerRoutes } from "@agentlab/runner/runner-routes";
import { type Client, createClient, createRouterTransport, type Transport } from "@connectrpc/connect";
import { closeDatabase, type SqliteDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { EventBus } from "../../src/events/event-bus.js";
import type { JobSettings } from "../../src/jobs/job-settings.js";
import { createJobsModule, type JobsModule } from "../../src/jobs/jobs-module.js";
import type { LoopTimers } from "../../src/loops/periodic-loop.js";
import { ProfileRegistry } from "../../src/profiles/profile-registry.js";
import { RunnerPool } from "../../src/runners/runner-pool.js";
import { SandboxLifecycle } from "../../src/sandboxes/sandbox-lifecycle.js";
import { ownerTagFor, type SandboxPolicy } from "../../src/sandboxes/sandbox-policy.js";

export const START = "2026-03-01T12:00:00.000Z";

export const profileYaml = (name: string, extra = "") => `name: ${name}
backend: local
network:
  mode: none
behavior:
  ttl_minutes_default: 30
  keepalive_default: false
${extra}`;

/** Timers that never fire: tests drive every pass by hand. */
export const manualTimers: LoopTimers = { setTimeout: () => undefined, clearTimeout: () => {} };

export interface Control {
  db: SqliteDatabase;
  bus: EventBus;
  lifecycle: SandboxLifecycle;
  jobs: JobsModule;
  jobClient: Client<typeof JobService>;
  guestClient: Client<typeof GuestService>;
}

export class JobHarness {
  readonly dir = mkdtempSync(join(tmpdir(), "agentlab-jobs-"));
  readonly dbPath = join(this.dir, "agentlab.db");
  readonly profilesDir = join(this.dir, "profiles");
  readonly secretsDir = join(this.dir, "secrets");
  readonly sandboxDir = join(this.dir, "sandboxes");
  readonly logLines: string[] = [];
  private now = new Date(START).getTime();
  readonly clock = () => new Date(this.now);
  readonly logger: Logger;
  readonly backend: Backend;
  readonly runnerTransport: Transport;
  private controls: Control[] = [];

  constructor(
    readonly vmidRange: { min: number; max: number },
    readonly options: { maxActive?: number; settings?: Partial<JobSettings> } = {},
  ) {
    chmodSync(this.dir, 0o711); // the sandbox uid must pass through to its directory
    mkdirSync(this.profilesDir);
    mkdirSync(this.secretsDir, { mode: 0o700 });
    this.logger = createLogger({
      service: "test",
      level: "debug",
      destination: { write: (line: string) => this.logLines.push(line) } as unknown as NodeJS.WritableStream,
    });
    this.backend = createLocalBackend({
      sandboxDir: this.sandboxDir,
      ownerTag: ownerTagFor("jobtest"),
      stopGraceMs: 2000,
    });
    this.runnerTransport = createRouterTransport(runnerRoutes({ backend: this.backend, runnerVersion: "test" }), {
      router: { interceptors: [createErrorMappingInterceptor()] },
    });
  }

  advance(ms: number): void {
    this.now += ms;
  }

  writeProfile(name: string, extra = ""): void {
    writeFileSync(join(this.profilesDir, `${name}.yaml`), profileYaml(name, extra));
  }

  writeBundle(name: string, text: string, mode = 0o600): string {
    const path = join(this.secretsDir, `${name}.yaml`);
    writeFileSync(path, text, { mode });
    chmodSync(path, mode);
    return path;
  }

  settings(): JobSettings {
    return {
      heartbeatTimeoutMs: 120_000,
      cancelGraceMs: 120_000,
      uploadGraceMs: 15 * 60_000,
      logMaxBytes: 1024 * 1024,
      artifactTokenTtlMs: 24 * 3600_000,
      artifactMaxBytes: 1024 * 1024,
      artifactUploadUrl: "http://10.77.0.1:8846/upload",
      secretsDir: this.secretsDir,
      ...this.options.settings,
    };
  }

  /** A control process on the shared database file; call again for a "restart". */
  async startControl(): Promise<Control> {
    const { db } = await openMigratedDatabase({
      dbPath: this.dbPath,
      clock: this.clock,
      takeBackup: false,
      freeBytes: () => 1024 ** 4,
    });
    const bus = new EventBus();
    const profiles = new ProfileRegistry({ profilesDir: this.profilesDir });
    await profiles.load();
    const runners = new RunnerPool(
      [{ name: "local", endpoint: "local", vmid_range: this.vmidRange }],
      () => this.runnerTransport,
    );
    const policy: SandboxPolicy = {
      deploymentId: "jobtest",
      provisioningTimeoutMs: 60_000,
      bootTimeoutMs: 60_000,
      requestedTimeoutMs: 60_000,
      adoptUntaggedVms: true,
      maxActiveSandboxes: this.options.maxActive ?? 10,
      vmidAttempts: 3,
      controllerUrl: "http://127.0.0.1:9",
      bootstrapTokenTtlMs: 30 * 60_000,
    };
    const lifecycle = new SandboxLifecycle({
      db,
      bus,
      clock: this.clock,
      runners,
      profiles,
      policy,
      logger: this.logger,
    });
    const jobs = createJobsModule({
      db,
      bus,
      clock: this.clock,
      lifecycle,
      profiles,
      logger: this.logger,
      settings: this.settings(),
      maxActiveSandboxes: policy.maxActiveSandboxes,
      timers: manualTimers,
    });
    const transport = createRouterTransport(
      (router) => {
        jobs.registerJobRoutes(router);
        jobs.registerGuestRoutes(router);
      },
      { router: { interceptors: [createErrorMappingInterceptor()] } },
    );
    const control = {
      db,
      bus,
      lifecycle,
      jobs,
      jobClient: createClient(JobService, transport),
      guestClient: createClient(GuestService, transport),
    };
    this.controls.push(control);
    return control;
  }

  /** Stops a control as a crash would leave things: no drain of the sandboxes, the database closed. */
  async stopControl(control: Control): Promise<void> {
    await control.jobs.stop();
    await control.lifecycle.drain();
    closeDatabase(control.db);
    this.controls = this.controls.filter((c) => c !== control);
  }

  /** The bootstrap document the runner wrote into the sandbox. */
  bootstrapDocument(vmid: number): { token: string; vmid: number; controller: string } {
    return JSON.parse(readFileSync(join(this.sandboxDir, String(vmid), "bootstrap.json"), "utf8"));
  }

  async liveVmids(): Promise<number[]> {
    const vms = await this.backend.listVms(
      { requestId: "list", deadline: Date.now() + 30_000 },
      { includeForeign: true },
    );
    return vms.map((vm) => vm.vmid).sort();
  }

  async cleanup(): Promise<void> {
    for (const control of [...this.controls]) await this.stopControl(control);
    for (const vm of await this.backend.listVms(
      { requestId: "cleanup", deadline: Date.now() + 30_000 },
      { includeForeign: true },
    )) {
      await this.backend.destroy({ requestId: `cleanup-${vm.vmid}`, deadline: Date.now() + 30_000 }, vm.vmid, {
        adopt: { vmid: vm.vmid, name: vm.name },
      });
    }
    await this.backend.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
