import { join } from "node:path";

/**
 * How a local sandbox reaches control and artifacts: it has no network route to the host (network
 * `none`), so the host's guest-facing Unix sockets are bind-mounted into it at fixed paths. Control
 * imports these too, to write the matching endpoints into the bootstrap document.
 */

/** Inside the sandbox: control's and the artifacts service's guest sockets (shared with control). */
export { SANDBOX_ARTIFACTS_SOCKET, SANDBOX_CONTROL_SOCKET } from "@agentlab/core";
/** Inside the sandbox: the bootstrap document the local backend writes (read-only). */
export const SANDBOX_BOOTSTRAP_FILE = "/etc/agentlab/bootstrap.json";
/**
 * Inside the sandbox: where the host's Node and the guest bundle are bind-mounted. Not under
 * /run/agentlab, which the guest runner keeps for its own private files.
 */
export const SANDBOX_GUEST_BIN_DIR = "/run/agentlab-guest";
export const SANDBOX_GUEST_NODE = `${SANDBOX_GUEST_BIN_DIR}/node`;
export const SANDBOX_GUEST_BUNDLE = `${SANDBOX_GUEST_BIN_DIR}/agentlab-guest.mjs`;

/** Host-side socket file names under run_dir, used when the config does not name them. */
export const DEFAULT_GUEST_SOCKET_NAME = "guest.sock";
export const DEFAULT_ARTIFACTS_GUEST_SOCKET_NAME = "artifacts-guest.sock";

/**
 * The config keys that name the host-side sockets. `guest_socket` and `artifacts_guest_socket` are
 * not in core's schema yet; typed as optional so they are picked up once they are.
 */
export interface GuestSocketConfig {
  run_dir: string;
  guest_socket?: string | undefined;
  artifacts_guest_socket?: string | undefined;
}

export interface HostGuestSockets {
  /** Control's guest listener on the host, mounted at SANDBOX_CONTROL_SOCKET. */
  controlSocket: string;
  /** The artifacts guest listener on the host, mounted at SANDBOX_ARTIFACTS_SOCKET. */
  artifactsSocket: string;
}

export function hostGuestSockets(config: GuestSocketConfig): HostGuestSockets {
  return {
    controlSocket: config.guest_socket ?? join(config.run_dir, DEFAULT_GUEST_SOCKET_NAME),
    artifactsSocket: config.artifacts_guest_socket ?? join(config.run_dir, DEFAULT_ARTIFACTS_GUEST_SOCKET_NAME),
  };
}
