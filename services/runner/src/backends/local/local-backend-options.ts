import { spawn as nodeSpawn } from "node:child_process";
import os from "node:os";
import path from "node:path";

/** Which sandboxing tool launches the sandbox. `auto` prefers bubblewrap and falls back to util-linux. */
export type IsolationMode = "auto" | "bwrap" | "unshare";

/** The isolation actually used for a sandbox (never `auto`). */
export type ResolvedIsolation = "bwrap" | "unshare";

/** Where the backend reports what it skipped or did (cgroup limits, adoption). Defaults to silence. */
export interface LocalBackendLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface LocalBackendOptions {
  /** Root of every sandbox's own directory: `<sandboxDir>/<vmid>/` and `<sandboxDir>/volumes/<name>/`. */
  sandboxDir: string;
  /** The ownership tag of this deployment (`agentlab-<deployment_id>`): listVms, stop and destroy act only on it. */
  ownerTag: string;
  isolation?: IsolationMode;
  /**
   * Host paths the sandbox must not see (tmpfs or an empty directory over them): the runner's data dir,
   * secrets, sockets. `/etc/agentlab`, `/root` and `sandboxDir` are always hidden.
   */
  hiddenPaths?: string[];
  /** Unprivileged host uid/gid the sandbox runs as (and owns its files as). Default 65534 (nobody). */
  hostUid?: number;
  hostGid?: number;
  /** The uid/gid the sandboxed process sees itself as, mapped onto hostUid/hostGid by its user namespace. */
  sandboxUid?: number;
  sandboxGid?: number;
  /** Grace between SIGTERM and SIGKILL on stop. Default 5000 ms. */
  stopGraceMs?: number;
  /** Interval between /proc checks while waiting for a sandbox to come up or go away. Default 25 ms. */
  pollIntervalMs?: number;
  /** Capacity reported as maxVms. Default: 4 per core. */
  maxVms?: number;
  /** Tool locations; default: found on PATH. */
  bwrapPath?: string;
  unsharePath?: string;
  /** Where cgroups are mounted: the v2 hierarchy, or the v1 `cpu` and `memory` ones below it. Default `/sys/fs/cgroup`. */
  cgroupRoot?: string;
  /** Injected for tests. */
  spawn?: typeof nodeSpawn;
  now?: () => Date;
  logger?: LocalBackendLogger;
}

export type ResolvedLocalBackendOptions = Required<Omit<LocalBackendOptions, "bwrapPath" | "unsharePath">> & {
  bwrapPath: string | undefined;
  unsharePath: string | undefined;
};

const silentLogger: LocalBackendLogger = { info: () => {}, warn: () => {} };

export function resolveLocalBackendOptions(options: LocalBackendOptions): ResolvedLocalBackendOptions {
  const sandboxDir = path.resolve(options.sandboxDir);
  const hidden = new Set(
    ["/etc/agentlab", "/root", sandboxDir, ...(options.hiddenPaths ?? [])].map((p) => path.resolve(p)),
  );
  return {
    sandboxDir,
    ownerTag: options.ownerTag,
    isolation: options.isolation ?? "auto",
    hiddenPaths: [...hidden],
    hostUid: options.hostUid ?? 65534,
    hostGid: options.hostGid ?? 65534,
    sandboxUid: options.sandboxUid ?? 1000,
    sandboxGid: options.sandboxGid ?? 1000,
    stopGraceMs: options.stopGraceMs ?? 5000,
    pollIntervalMs: options.pollIntervalMs ?? 25,
    maxVms: options.maxVms ?? Math.max(1, os.cpus().length * 4),
    bwrapPath: options.bwrapPath,
    unsharePath: options.unsharePath,
    cgroupRoot: options.cgroupRoot ?? "/sys/fs/cgroup",
    spawn: options.spawn ?? nodeSpawn,
    now: options.now ?? (() => new Date()),
    logger: options.logger ?? silentLogger,
  };
}
