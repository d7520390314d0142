import type { MountOp } from "./sandbox-mount-plan.js";

/** Everything a launcher needs to turn a mount plan into a command line. */
export interface SandboxLaunchSpec {
  plan: MountOp[];
  hostname: string;
  network: "none" | "host";
  hostUid: number;
  hostGid: number;
  sandboxUid: number;
  sandboxGid: number;
  /** The sandbox's init; runs with the sandbox uid, no capabilities and no_new_privs. */
  command: string[];
  /** Unshare launcher only: empty host directory the new root is assembled on inside the mount namespace. */
  rootfsDir: string;
}

/** A spawnable command: argv plus the host credentials to spawn it with (undefined = as the runner). */
export interface LauncherCommand {
  file: string;
  args: string[];
  uid?: number;
  gid?: number;
}
