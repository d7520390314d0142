import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import type { AdoptionHint, Backend, BackendInfo, CallContext, GuestAddress, VmInfo } from "../../backend.js";
import { BackendError } from "../../backend-errors.js";
import { bwrapCommand } from "./bwrap-command.js";
import { applyCgroupLimits, removeCgroup } from "./cgroup-limits.js";
import { type IsolationChoice, probeIsolation } from "./isolation-probe.js";
import { type LocalBackendOptions, resolveLocalBackendOptions } from "./local-backend-options.js";
import { createLocalVolumes } from "./local-volumes.js";
import { isProcessAlive, listDescendants } from "./proc-process-table.js";
import { validateProvisionSpec } from "./provision-spec-validation.js";
import { checkSandboxDirReachable, readOnlyPathMounts } from "./sandbox-dir-access.js";
import { DEFAULT_GUEST_COMMAND, sandboxGuestEnv } from "./sandbox-guest-env.js";
import { buildMountPlan } from "./sandbox-mount-plan.js";
import { sandboxPaths, volumeDir } from "./sandbox-paths.js";
import {
  assertBeforeDeadline,
  launchSandbox,
  type SandboxProcessDeps,
  terminateSandbox,
  waitUntilSandboxed,
} from "./sandbox-process.js";
import { listSandboxVmids, readSandboxState, type SandboxState, writeSandboxState } from "./sandbox-state-file.js";
import { unshareCommand } from "./unshare-command.js";

/** The guest's address as seen from inside its own network namespace: the local backend has no NIC. */
export const LOCAL_GUEST_ADDRESS: GuestAddress = { ipv4: "127.0.0.1" };

/**
 * The embedded sandbox backend: each sandbox is a process tree in its own namespaces on this host,
 * launched with bubblewrap or util-linux. All state lives in `<sandboxDir>/<vmid>/state.json`, so a new
 * runner process manages sandboxes an earlier one started; close() never touches them.
 */
export function createLocalBackend(options: LocalBackendOptions): Backend {
  const config = resolveLocalBackendOptions(options);
  const deps: SandboxProcessDeps = { spawn: config.spawn, now: config.now, pollIntervalMs: config.pollIntervalMs };
  let isolationChoice: Promise<IsolationChoice> | undefined;

  const isolation = () => {
    isolationChoice ??= probeIsolation(config.spawn, config.isolation, config).catch((err: unknown) => {
      isolationChoice = undefined; // the operator may fix the host; probe again next time
      throw err;
    });
    return isolationChoice;
  };

  const loadState = (vmid: number): SandboxState => {
    const state = readSandboxState(sandboxPaths(config.sandboxDir, vmid).stateFile);
    if (!state) {
      throw new BackendError("not_found", `sandbox ${vmid} does not exist in ${config.sandboxDir}`, { vmid });
    }
    return state;
  };
  const saveState = (state: SandboxState) =>
    writeSandboxState(sandboxPaths(config.sandboxDir, state.vmid).stateFile, state);

  const isRunning = (state: SandboxState) =>
    state.pid !== undefined && state.pidStartTime !== undefined && isProcessAlive(state.pid, state.pidStartTime);

  const toVmInfo = (state: SandboxState): VmInfo => ({
    vmid: state.vmid,
    name: state.name,
    state: isRunning(state) ? "running" : "stopped",
    owned: state.ownerTag === config.ownerTag,
    tags: state.tags,
  });

  /** Our tag, or an adoption hint naming this VMID and its recorded name (then the VM is tagged ours). */
  const requireOwned = (state: SandboxState, adopt: AdoptionHint | undefined, action: string) => {
    if (state.ownerTag === config.ownerTag) return;
    // Only an untagged sandbox (migrated from the original AgentLab) can be adopted; one with another
    // deployment's tag never is.
    const untagged = !state.ownerTag && !state.tags.some((t) => t.startsWith("agentlab-"));
    if (adopt && untagged && adopt.vmid === state.vmid && adopt.name === state.name) {
      state.ownerTag = config.ownerTag;
      state.tags = [...state.tags.filter((t) => !t.startsWith("agentlab-")), config.ownerTag];
      saveState(state);
      config.logger.info("adopted sandbox", { vmid: state.vmid, name: state.name });
      return;
    }
    throw new BackendError(
      "not_owned",
      `refusing to ${action} sandbox ${state.vmid}: it carries tag ${state.ownerTag}, not ${config.ownerTag}`,
      { vmid: state.vmid, hint: "only sandboxes created by this deployment (or adopted by VMID and name) are managed" },
    );
  };

  const stopState = async (ctx: CallContext, state: SandboxState) => {
    if (state.pid !== undefined && state.pidStartTime !== undefined) {
      await terminateSandbox(
        deps,
        ctx,
        state.vmid,
        { pid: state.pid, startTime: state.pidStartTime },
        config.stopGraceMs,
      );
    }
    await removeCgroup(state.cgroup);
    if (state.powerState !== "stopped" || state.pid !== undefined) {
      state.powerState = "stopped";
      state.stoppedAt = config.now().toISOString();
      delete state.pid;
      delete state.pidStartTime;
      saveState(state);
    }
  };

  const backend: Backend = {
    async info(): Promise<BackendInfo> {
      const running = listSandboxVmids(config.sandboxDir).filter((vmid) => {
        const state = readSandboxState(sandboxPaths(config.sandboxDir, vmid).stateFile);
        return state !== undefined && state.ownerTag === config.ownerTag && isRunning(state);
      });
      return {
        kind: "local",
        node: os.hostname(),
        version: os.release(),
        capacity: {
          cores: os.cpus().length,
          memoryMb: Math.floor(os.totalmem() / (1024 * 1024)),
          runningVms: running.length,
          maxVms: config.maxVms,
        },
      };
    },

    async provision(ctx, spec) {
      validateProvisionSpec(spec);
      const paths = sandboxPaths(config.sandboxDir, spec.vmid);
      const existing = readSandboxState(paths.stateFile);
      if (existing) {
        // A retried ProvisionVm (same request id and name) gets the sandbox it already created.
        if (existing.requestId === ctx.requestId && existing.name === spec.name) return toVmInfo(existing);
        throw new BackendError("already_exists", `sandbox ${spec.vmid} already exists (name ${existing.name})`, {
          vmid: spec.vmid,
          hint: "allocate another VMID",
        });
      }
      mkdirSync(config.sandboxDir, { recursive: true, mode: 0o711 });
      // Traversable but not listable: bwrap runs as the sandbox uid and must reach its own directories.
      chmodSync(config.sandboxDir, 0o711);
      checkSandboxDirReachable(config.sandboxDir, config.hostUid, config.hostGid);
      try {
        mkdirSync(paths.dir, { mode: 0o711 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        throw new BackendError("already_exists", `sandbox directory ${paths.dir} already exists without a state file`, {
          vmid: spec.vmid,
          hint: `allocate another VMID, or remove the leftover ${paths.dir}`,
        });
      }
      try {
        for (const dir of [paths.workDir, paths.tmpDir, paths.homeDir]) {
          mkdirSync(dir, { mode: 0o700 });
          chownSync(dir, config.hostUid, config.hostGid);
        }
        mkdirSync(paths.rootfsDir, { mode: 0o700 });
        writeFileSync(paths.bootstrapFile, spec.bootstrapJson, { mode: 0o600 });
        chownSync(paths.bootstrapFile, config.hostUid, config.hostGid);
        writeFileSync(paths.consoleLog, "", { mode: 0o600 });
        const state: SandboxState = {
          vmid: spec.vmid,
          name: spec.name,
          ownerTag: spec.ownerTag,
          tags: [spec.ownerTag],
          description: spec.description,
          requestId: ctx.requestId,
          createdAt: config.now().toISOString(),
          powerState: "stopped",
          network: spec.network.localMode ?? "none",
          cores: spec.cores,
          memoryMb: spec.memoryMb,
          guestCommand: spec.guestCommand,
          mounts: [
            ...(spec.mounts ?? []),
            ...readOnlyPathMounts(spec.readOnlyPaths ?? [], [...config.hiddenPaths, config.sandboxDir]),
          ],
        };
        saveState(state);
        return toVmInfo(state);
      } catch (err) {
        rmSync(paths.dir, { recursive: true, force: true });
        throw err;
      }
    },

    async start(ctx, vmid) {
      const state = loadState(vmid);
      requireOwned(state, undefined, "start");
      if (isRunning(state)) return;
      const choice = await isolation();
      const paths = sandboxPaths(config.sandboxDir, vmid);
      for (const mount of state.mounts) {
        if (!existsSync(mount.hostPath)) {
          throw new BackendError("invalid_argument", `mount source ${mount.hostPath} does not exist`, {
            vmid,
            hint: "create the socket before starting the sandbox",
          });
        }
      }
      const volumeName = state.workVolume?.slice("local:".length);
      const plan = buildMountPlan({
        bootstrapFile: paths.bootstrapFile,
        workDir: volumeName ? volumeDir(config.sandboxDir, volumeName) : paths.workDir,
        tmpDir: paths.tmpDir,
        homeDir: paths.homeDir,
        hiddenPaths: config.hiddenPaths,
        network: state.network,
        mounts: state.mounts,
      });
      const launchSpec = {
        plan,
        hostname: state.name,
        network: state.network,
        hostUid: config.hostUid,
        hostGid: config.hostGid,
        sandboxUid: config.sandboxUid,
        sandboxGid: config.sandboxGid,
        command: state.guestCommand ?? DEFAULT_GUEST_COMMAND,
        rootfsDir: paths.rootfsDir,
      };
      const command =
        choice.isolation === "bwrap"
          ? bwrapCommand(choice.toolPath, launchSpec)
          : unshareCommand(choice.toolPath, launchSpec);
      const launcher = await launchSandbox(deps, command, paths.consoleLog, sandboxGuestEnv(vmid, state.name));
      Object.assign(state, {
        pid: launcher.pid,
        pidStartTime: launcher.startTime,
        powerState: "running",
        startedAt: config.now().toISOString(),
        isolation: choice.isolation,
      });
      delete state.stoppedAt;
      saveState(state);
      // The launcher first, then whatever it has forked by each listing (see moveIntoCgroups).
      const processes = () => [launcher.pid, ...listDescendants(launcher.pid).map((p) => p.pid)];
      const limits = { cores: state.cores, memoryMb: state.memoryMb };
      state.cgroup = applyCgroupLimits(config.cgroupRoot, vmid, limits, processes);
      if (state.cgroup.skipped) config.logger.warn("cgroup limits skipped", { vmid, reason: state.cgroup.skipped });
      saveState(state);
      try {
        await waitUntilSandboxed(deps, ctx, vmid, launcher, config.hostUid, paths.consoleLog);
      } catch (err) {
        await stopState({ ...ctx, deadline: Math.max(ctx.deadline, config.now().getTime() + 30_000) }, state);
        throw err;
      }
    },

    async stop(ctx, vmid, opts) {
      const state = loadState(vmid);
      requireOwned(state, opts?.adopt, "stop");
      await stopState(ctx, state);
    },

    async destroy(ctx, vmid, opts) {
      const paths = sandboxPaths(config.sandboxDir, vmid);
      const state = readSandboxState(paths.stateFile);
      if (!state) {
        // A directory without state is what a crash mid-provision leaves: nothing runs from it.
        if (existsSync(paths.dir) && lstatSync(paths.dir).isDirectory())
          rmSync(paths.dir, { recursive: true, force: true });
        return "already_gone";
      }
      requireOwned(state, opts?.adopt, "destroy");
      await stopState(ctx, state);
      rmSync(paths.dir, { recursive: true, force: true });
      return "destroyed";
    },

    async status(_ctx, vmid) {
      const state = loadState(vmid);
      if (state.powerState === "running" && !isRunning(state)) {
        config.logger.info("sandbox exited on its own", { vmid });
        state.powerState = "stopped";
        state.stoppedAt = config.now().toISOString();
        await removeCgroup(state.cgroup);
        saveState(state);
      }
      return toVmInfo(state);
    },

    async waitGuestIp(ctx, vmid) {
      for (;;) {
        const state = loadState(vmid);
        if (isRunning(state)) return { ...LOCAL_GUEST_ADDRESS };
        if (state.powerState === "stopped" || state.pid === undefined) {
          throw new BackendError("task_failed", `sandbox ${vmid} is not running, so it will never have an address`, {
            vmid,
            hint: `start it first; if it exited, see ${sandboxPaths(config.sandboxDir, vmid).consoleLog}`,
          });
        }
        assertBeforeDeadline(deps, ctx, `waiting for sandbox ${vmid}'s address`);
        await new Promise((resolve) => setTimeout(resolve, config.pollIntervalMs));
      }
    },

    async listVms(_ctx, opts) {
      const result: VmInfo[] = [];
      for (const vmid of listSandboxVmids(config.sandboxDir)) {
        let state: SandboxState | undefined;
        try {
          state = readSandboxState(sandboxPaths(config.sandboxDir, vmid).stateFile);
        } catch (err) {
          config.logger.warn("unreadable sandbox state skipped", { vmid, error: (err as Error).message });
          continue;
        }
        if (!state) continue;
        const info = toVmInfo(state);
        if (info.owned || opts?.includeForeign) result.push(info);
      }
      return result;
    },

    async snapshotCreate(_ctx, vmid) {
      throw snapshotsUnsupported(vmid);
    },
    async snapshotRollback(_ctx, vmid) {
      throw snapshotsUnsupported(vmid);
    },
    async snapshotDelete(_ctx, vmid) {
      throw snapshotsUnsupported(vmid);
    },

    ...createLocalVolumes(config, { loadState, saveState, isRunning }),

    async validateTemplate() {
      // Templates are a Proxmox notion; every local sandbox is built from the host's own root.
      return { ok: true, problems: [] };
    },

    async close() {
      // Deliberately nothing: sandboxes keep running and the next runner re-adopts them from state.json.
    },
  };
  return backend;
}

function snapshotsUnsupported(vmid: number): BackendError {
  return new BackendError("unavailable", "the local backend does not support snapshots", {
    vmid,
    hint: "use a workspace volume to keep /work between sandboxes, or the proxmox backends for snapshots",
  });
}
