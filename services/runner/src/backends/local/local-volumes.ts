import { chownSync, existsSync, mkdirSync, rmSync } from "node:fs";
import type { Backend } from "../../backend.js";
import { BackendError } from "../../backend-errors.js";
import type { ResolvedLocalBackendOptions } from "./local-backend-options.js";
import { sandboxPaths, volumeDir, volumesDir } from "./sandbox-paths.js";
import { listSandboxVmids, readSandboxState, type SandboxState } from "./sandbox-state-file.js";

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;
const VOLID_PREFIX = "local:";

interface SandboxStateAccess {
  loadState(vmid: number): SandboxState;
  saveState(state: SandboxState): void;
  isRunning(state: SandboxState): boolean;
}

/**
 * Workspace volumes are plain directories, `<sandboxDir>/volumes/<name>`, mounted at /work in place of
 * the sandbox's own work dir. Size is not enforced (no quota on a directory). Mounts are made at
 * start, so attach and detach need a stopped sandbox.
 */
export function createLocalVolumes(
  config: ResolvedLocalBackendOptions,
  sandboxes: SandboxStateAccess,
): Pick<Backend, "volumeCreate" | "volumeAttach" | "volumeDetach" | "volumeDelete"> {
  const parseVolid = (volid: string): string => {
    const name = volid.startsWith(VOLID_PREFIX) ? volid.slice(VOLID_PREFIX.length) : "";
    if (!VOLUME_NAME.test(name)) {
      throw new BackendError("invalid_argument", `volume id ${JSON.stringify(volid)} is not a local volume`, {
        hint: "local volume ids look like local:<name>",
      });
    }
    return name;
  };
  const requireStopped = (state: SandboxState, action: string) => {
    if (sandboxes.isRunning(state)) {
      throw new BackendError("invalid_argument", `cannot ${action} while sandbox ${state.vmid} is running`, {
        vmid: state.vmid,
        hint: "stop the sandbox first; local volumes are mounted when it starts",
      });
    }
  };

  return {
    async volumeCreate(_ctx, spec) {
      if (!VOLUME_NAME.test(spec.name)) {
        throw new BackendError("invalid_argument", `volume name ${JSON.stringify(spec.name)} is not allowed`, {
          hint: "use letters, digits, '.', '_' and '-'",
        });
      }
      mkdirSync(volumesDir(config.sandboxDir), { recursive: true, mode: 0o711 });
      const dir = volumeDir(config.sandboxDir, spec.name);
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        throw new BackendError("already_exists", `volume ${spec.name} already exists at ${dir}`, {
          hint: "pick another name or delete the volume first",
        });
      }
      chownSync(dir, config.hostUid, config.hostGid);
      return { volid: `${VOLID_PREFIX}${spec.name}` };
    },

    async volumeAttach(_ctx, vmid, volid, slot) {
      const name = parseVolid(volid);
      if (!existsSync(volumeDir(config.sandboxDir, name))) {
        throw new BackendError("not_found", `volume ${volid} does not exist`, { vmid });
      }
      const state = sandboxes.loadState(vmid);
      requireStopped(state, `attach ${volid} (slot ${slot})`);
      if (state.workVolume && state.workVolume !== volid) {
        throw new BackendError("invalid_argument", `sandbox ${vmid} already has ${state.workVolume} at /work`, {
          vmid,
          hint: "detach it first; the local backend mounts one volume, at /work",
        });
      }
      state.workVolume = volid;
      sandboxes.saveState(state);
    },

    async volumeDetach(_ctx, vmid, slot) {
      const state = sandboxes.loadState(vmid);
      requireStopped(state, `detach slot ${slot}`);
      delete state.workVolume;
      sandboxes.saveState(state);
    },

    async volumeDelete(_ctx, volid) {
      const name = parseVolid(volid);
      const dir = volumeDir(config.sandboxDir, name);
      if (!existsSync(dir)) throw new BackendError("not_found", `volume ${volid} does not exist`);
      for (const vmid of listSandboxVmids(config.sandboxDir)) {
        const state = readSandboxState(sandboxPaths(config.sandboxDir, vmid).stateFile);
        if (state?.workVolume === volid) {
          throw new BackendError("invalid_argument", `volume ${volid} is attached to sandbox ${vmid}`, {
            vmid,
            hint: "detach it or destroy the sandbox first",
          });
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
