import { fileURLToPath } from "node:url";
import type { Backend, ProvisionSpec } from "./backend.js";
import {
  type HostGuestSockets,
  SANDBOX_ARTIFACTS_SOCKET,
  SANDBOX_BOOTSTRAP_FILE,
  SANDBOX_CONTROL_SOCKET,
  SANDBOX_GUEST_BUNDLE,
  SANDBOX_GUEST_NODE,
} from "./local-sandbox-endpoints.js";

/**
 * The guest bundle beside this one: the runner bundle (services/runner/dist/) and the guest bundle
 * (guest/agent-runner/dist/) sit at the same depth under the repository or the package root
 * (/opt/agentlab/<version>/), and so do the sources when run by tests.
 */
export function defaultGuestBundlePath(): string {
  return fileURLToPath(new URL("../../../guest/agent-runner/dist/agentlab-guest.mjs", import.meta.url));
}

/**
 * The sandbox's init: the guest runner, then `sleep infinity` so the sandbox stays up after the
 * guest exits (control collects results and destroys it; a dead init would look like a crashed VM).
 * Paths travel as positional arguments so no quoting can go wrong.
 */
export function localGuestCommand(): string[] {
  return [
    "/bin/sh",
    "-c",
    `AGENTLAB_BOOTSTRAP_FILE=${SANDBOX_BOOTSTRAP_FILE} "$1" "$2"; exec sleep infinity`,
    "agentlab-guest",
    SANDBOX_GUEST_NODE,
    SANDBOX_GUEST_BUNDLE,
  ];
}

export interface LocalSandboxProvisioning {
  sockets: HostGuestSockets;
  /** The host's Node binary (process.execPath). */
  nodePath: string;
  /** The guest bundle on the host. */
  guestBundlePath: string;
}

/**
 * Bind mounts every local sandbox gets: the guest sockets, and Node and the guest bundle read-only
 * at fixed paths — the host's copies may live where the sandbox sees nothing (/root, /home, /work).
 */
export function localSandboxMounts(p: LocalSandboxProvisioning): NonNullable<ProvisionSpec["mounts"]> {
  return [
    { hostPath: p.sockets.controlSocket, sandboxPath: SANDBOX_CONTROL_SOCKET },
    { hostPath: p.sockets.artifactsSocket, sandboxPath: SANDBOX_ARTIFACTS_SOCKET },
    { hostPath: p.nodePath, sandboxPath: SANDBOX_GUEST_NODE, readOnly: true },
    { hostPath: p.guestBundlePath, sandboxPath: SANDBOX_GUEST_BUNDLE, readOnly: true },
  ];
}

/**
 * The local backend with the runner's defaults filled into every ProvisionSpec: the proto has no
 * mounts or guest command (they are the runner's business, not control's).
 */
export function withLocalSandboxDefaults(backend: Backend, p: LocalSandboxProvisioning): Backend {
  const mounts = localSandboxMounts(p);
  const guestCommand = localGuestCommand();
  return {
    info: (ctx) => backend.info(ctx),
    provision: (ctx, spec) =>
      backend.provision(ctx, {
        ...spec,
        mounts: [...mounts, ...(spec.mounts ?? [])],
        guestCommand: spec.guestCommand ?? guestCommand,
      }),
    start: (ctx, vmid) => backend.start(ctx, vmid),
    stop: (ctx, vmid, opts) => backend.stop(ctx, vmid, opts),
    destroy: (ctx, vmid, opts) => backend.destroy(ctx, vmid, opts),
    status: (ctx, vmid) => backend.status(ctx, vmid),
    waitGuestIp: (ctx, vmid) => backend.waitGuestIp(ctx, vmid),
    listVms: (ctx, opts) => backend.listVms(ctx, opts),
    snapshotCreate: (ctx, vmid, name) => backend.snapshotCreate(ctx, vmid, name),
    snapshotRollback: (ctx, vmid, name) => backend.snapshotRollback(ctx, vmid, name),
    snapshotDelete: (ctx, vmid, name) => backend.snapshotDelete(ctx, vmid, name),
    volumeCreate: (ctx, spec) => backend.volumeCreate(ctx, spec),
    volumeAttach: (ctx, vmid, volid, slot) => backend.volumeAttach(ctx, vmid, volid, slot),
    volumeDetach: (ctx, vmid, slot) => backend.volumeDetach(ctx, vmid, slot),
    volumeDelete: (ctx, volid) => backend.volumeDelete(ctx, volid),
    validateTemplate: (ctx, templateVmid) => backend.validateTemplate(ctx, templateVmid),
    close: () => backend.close(),
  };
}
