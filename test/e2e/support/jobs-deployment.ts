/**
 * A deployment that runs jobs end to end: agentlabd as a child process on the local backend, or on
 * either Proxmox backend against pve-sim with the real guest runner launched by each simulated VM at
 * boot (the guest then runs on this host as a plain process: that is what the VM stands for). Each
 * launch gets private run and repo directories under the deployment, so guests never share the
 * payload cache or the "job finished" marker, and a test can find a VM's guest by its directory.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPveSim, type PveSim, type PveSimOptions } from "@agentlab/pve-sim";
import { type CliResult, runCli } from "./agentlab-cli.js";
import { type AgentlabdProcess, REPO_ROOT, startAgentlabd } from "./agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  writeDeploymentConfig,
  writeProfile,
} from "./deployment-dir.js";
import { type HostProcess, killAll, processesOf } from "./host-processes.js";
import { createScratchRepo, type ScratchRepo } from "./scratch-repo.js";

export type JobsBackend = "local" | "proxmox-api" | "proxmox-shell";

export const GUEST_BIN = join(REPO_ROOT, "guest/agent-runner/dist/agentlab-guest.mjs");

/** One simulated VM's boot: the guest process it started, if any. */
export interface GuestLaunch {
  vmid: number;
  /** Private to this launch: `run/` (AGENTLAB_RUN_DIR) and `repo/` (AGENTLAB_REPO_DIR). */
  dir: string;
  /** The bootstrap JSON the VM's cloud-init snippet carried ({token, vmid, controller, …}). */
  bootstrap: { token: string; vmid: number; controller: string };
  /** False when `launchGuests` was off: the VM booted with no guest, its token unspent. */
  started: boolean;
}

export interface JobsDeploymentOptions {
  backend: JobsBackend;
  /** Extra config keys (durations such as guest_heartbeat_timeout, limits, log_level). */
  config?: Record<string, unknown>;
  /** pve-sim options (timeScale, durations); default timeScale 0.01 with a real clock. */
  sim?: Omit<PveSimOptions, "snippetsDir" | "guestCommand" | "guestEnv">;
  /** Secrets bundles: name → YAML text, written to secrets_dir/<name>.yaml with mode 0600. */
  secrets?: Record<string, string>;
  /**
   * Start each guest this long after its VM starts, as a real guest unit starts only once the OS
   * has booted (benchmarks pass the sim's agentReady); default 0, the instant the VM starts.
   */
  guestStartDelayMs?: number;
}

export interface JobsDeployment {
  backend: JobsBackend;
  deployment: DeploymentDir;
  /** The profile jobs run on: the shipped local-ephemeral or yolo-ephemeral. */
  profile: string;
  repo: ScratchRepo;
  artifactsSocket: string;
  sim: PveSim | undefined;
  /** Where the runner writes cloud-init snippets (Proxmox backends). */
  snippetsDir: string | undefined;
  /** Added to the environment of guests launched from now on (e.g. AGENTLAB_TTL_SECONDS_OVERRIDE). */
  guestEnv: Record<string, string>;
  /** While false, booting VMs start no guest (their bootstrap token stays unspent). */
  launchGuests: boolean;
  launches: GuestLaunch[];
  /** The latest boot of `vmid` (VMIDs are reused once free). */
  launchFor(vmid: number): GuestLaunch | undefined;
  /** The running agentlabd (replaced by restartDaemon). */
  daemon(): AgentlabdProcess;
  /** Logs agentlabd wrote (stdout and stderr) over every process started so far. */
  daemonOutput(): string;
  /** The CLI binary with --socket and --artifacts-socket of this deployment. */
  cli(args: string[]): Promise<CliResult>;
  cliJson<T = unknown>(args: string[]): Promise<T>;
  /** SIGKILL agentlabd (no shutdown at all) and wait until it has gone. */
  killDaemon(): Promise<void>;
  /** Starts agentlabd again on the same config. */
  restartDaemon(): Promise<void>;
  /** Processes of this deployment other than agentlabd: sandboxes, guests, agents. */
  leftovers(): HostProcess[];
  close(): Promise<void>;
}

export async function startJobsDeployment(options: JobsDeploymentOptions): Promise<JobsDeployment> {
  const deployment = createDeploymentDir(`jobs-${options.backend}`);
  let sim: PveSim | undefined;
  let daemon: AgentlabdProcess | undefined;
  const pastOutput: string[] = [];
  // Local sandboxes may not see AgentLab's own directories, so the repository lives beside them.
  const repoParent = mkdtempSync(join(tmpdir(), "agentlab-e2e-repo-"));
  chmodSync(repoParent, 0o711);
  const removeAll = () => {
    deployment.remove();
    rmSync(repoParent, { recursive: true, force: true });
  };
  try {
    const repo = createScratchRepo(repoParent);
    const secretsDir = join(deployment.dir, "secrets");
    mkdirSync(secretsDir, { mode: 0o700 });
    for (const [name, text] of Object.entries(options.secrets ?? {})) {
      writeFileSync(join(secretsDir, `${name}.yaml`), text, { mode: 0o600 });
    }
    const guestsDir = join(deployment.dir, "guests");
    mkdirSync(guestsDir);
    const launches: GuestLaunch[] = [];
    const guestEnv: Record<string, string> = {};
    const control = { launchGuests: true };

    const bootstrapPort = await freeLoopbackPort();
    const artifactPort = await freeLoopbackPort();
    const listeners = {
      bootstrap_listen: `127.0.0.1:${bootstrapPort}`,
      artifact_listen: `127.0.0.1:${artifactPort}`,
      agent_subnet: "127.0.0.0/8",
    };
    let profile: string;
    let snippetsDir: string | undefined;
    let daemonEnv: Record<string, string> | undefined;
    let backendKeys: Record<string, unknown>;
    if (options.backend === "local") {
      profile = "local-ephemeral";
      backendKeys = { sandbox_backend: "local" };
    } else {
      profile = "yolo-ephemeral";
      snippetsDir = join(deployment.dir, "snippets");
      mkdirSync(snippetsDir);
      sim = await createPveSim({
        timeScale: 0.01,
        ...options.sim,
        snippetsDir,
        guestCommand: (vm) => {
          const dir = join(guestsDir, `${vm.vmid}-${launches.length + 1}`);
          const bootstrap = JSON.parse(readFileSync(vm.bootstrapFile, "utf8")) as GuestLaunch["bootstrap"];
          launches.push({ vmid: vm.vmid, dir, bootstrap, started: control.launchGuests });
          if (!control.launchGuests) return undefined;
          mkdirSync(join(dir, "run"), { recursive: true, mode: 0o700 });
          mkdirSync(join(dir, "repo"), { recursive: true });
          // `env` execs node in place: the sim's process-group kill at stop/destroy still reaches it.
          const env = { ...guestEnv, AGENTLAB_RUN_DIR: join(dir, "run"), AGENTLAB_REPO_DIR: join(dir, "repo") };
          const argv = [
            "/usr/bin/env",
            ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            process.execPath,
            GUEST_BIN,
          ];
          const delayS = (options.guestStartDelayMs ?? 0) / 1000;
          // The shell leads the process group the sim kills, and execs the guest after the wait.
          return delayS > 0 ? ["/bin/sh", "-c", `sleep ${delayS.toFixed(3)}; exec "$@"`, "guest", ...argv] : argv;
        },
      });
      backendKeys = {
        sandbox_backend: "proxmox",
        snippets_dir: snippetsDir,
        snippet_storage: "local",
        controller_url: `http://127.0.0.1:${bootstrapPort}`,
        artifact_upload_url: `http://127.0.0.1:${artifactPort}/upload`,
        // Every simulated guest calls from 127.0.0.1, where real VMs each have their own address:
        // a per-source rate limit would throttle all guests of the test together.
        bootstrap_rate_limit_qps: 0,
        artifact_rate_limit_qps: 0,
        ...(options.backend === "proxmox-api"
          ? {
              proxmox_backend: "api",
              proxmox_api_url: sim.baseUrl,
              proxmox_api_token: sim.token,
              proxmox_tls_fingerprint: sim.fingerprint,
            }
          : { proxmox_backend: "shell", proxmox_node: sim.node }),
      };
      // The shell backend's qm/pvesh/pvesm are the sim's fakes, first on agentlabd's PATH.
      if (options.backend === "proxmox-shell") daemonEnv = sim.cliEnv;
    }
    writeProfile(
      deployment,
      `${profile}.yaml`,
      readFileSync(join(REPO_ROOT, "deploy/profiles", `${profile}.yaml`), "utf8"),
    );
    writeDeploymentConfig(deployment, { ...backendKeys, ...listeners, ...options.config });
    chmodSync(deployment.configPath, 0o600);

    const start = () =>
      startAgentlabd({
        configPath: deployment.configPath,
        runDir: deployment.runDir,
        ...(daemonEnv ? { env: daemonEnv } : {}),
      });
    daemon = await start();
    const artifactsSocket = join(deployment.runDir, "artifacts.sock");
    const cli = (args: string[]) => runCli(deployment.socketPath, ["--artifacts-socket", artifactsSocket, ...args]);
    const running = sim;
    const current = () => {
      if (!daemon) throw new Error("agentlabd is not running");
      return daemon;
    };

    const result: JobsDeployment = {
      backend: options.backend,
      deployment,
      profile,
      repo,
      artifactsSocket,
      sim,
      snippetsDir,
      guestEnv,
      get launchGuests() {
        return control.launchGuests;
      },
      set launchGuests(value: boolean) {
        control.launchGuests = value;
      },
      launches,
      launchFor: (vmid) => [...launches].reverse().find((l) => l.vmid === vmid),
      daemon: current,
      daemonOutput: () => [...pastOutput, current().stdout(), current().stderr()].join("\n"),
      cli,
      async cliJson<T>(args: string[]): Promise<T> {
        const res = await cli([...args, "--output", "json"]);
        if (res.code !== 0) {
          throw new Error(`agentlab ${args.join(" ")} exited ${res.code}\n${res.stdout}\n${res.stderr}`);
        }
        return JSON.parse(res.stdout) as T;
      },
      async killDaemon() {
        const d = current();
        const gone = new Promise((resolve) => d.child.once("exit", resolve));
        if (d.child.exitCode === null && d.child.signalCode === null) {
          d.child.kill("SIGKILL");
          await gone;
        }
        pastOutput.push(d.stdout(), d.stderr());
        daemon = undefined;
        // A killed agentlabd leaves its sockets behind (the next one replaces them); readiness is
        // judged by the artifacts socket existing, so that one must go first.
        rmSync(join(deployment.runDir, "artifacts.sock"), { force: true });
      },
      async restartDaemon() {
        if (daemon) throw new Error("agentlabd is still running");
        daemon = await start();
      },
      leftovers: () => processesOf(deployment.dir, [daemon?.child.pid]),
      async close() {
        const d = daemon;
        daemon = undefined;
        try {
          if (d) await d.stop();
        } finally {
          await running?.close();
          // Local sandboxes outlive agentlabd by design (a new runner adopts them), and a sim guest's
          // agent has its own process group: after a failed test, stop whatever is still running
          // here. Tests assert leftovers() is empty first; this is only the safety net.
          killAll(processesOf(deployment.dir));
          removeAll();
        }
      },
    };
    return result;
  } catch (err) {
    await daemon?.stop();
    await sim?.close();
    removeAll();
    throw err;
  }
}
